"use client";

// The voice library: the saved voices (with Delete; the built-in one cannot be deleted) and a form
// to save a clip under a name. The server computes a saved voice once; any synthesis can then
// pick it by name.
import { useId, useRef, useState } from "react";
import type { VoiceLibrary as Library } from "@/hooks/useVoiceLibrary";
import { checkVoice, formatBytes, formatSeconds, type VoiceLimits } from "@/lib/voice";

export default function VoiceLibrary({
  library,
  limits,
  onSaved,
}: {
  library: Library;
  limits: VoiceLimits | null;
  onSaved: (name: string) => void;
}) {
  const ids = { name: useId(), file: useId(), help: useId() };
  const [name, setName] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [fileProblem, setFileProblem] = useState<string | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const { state, voices, busy, problem, message } = library;

  async function pick(f: File | undefined) {
    setFile(null);
    setFileProblem(null);
    if (!f || !limits) return;
    const check = await checkVoice(f, limits);
    if (check.ok) setFile(f);
    else {
      setFileProblem(check.message);
      if (fileRef.current) fileRef.current.value = "";
    }
  }

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!file || busy) return;
    const saved = name.trim();
    if (await library.save(saved, file)) {
      setName("");
      setFile(null);
      if (fileRef.current) fileRef.current.value = "";
      onSaved(saved);
    }
  }

  return (
    <form className="card library" onSubmit={submit} aria-labelledby={`${ids.name}-head`} aria-busy={busy}>
      <h2 id={`${ids.name}-head`}>Voice library</h2>
      {state.status === "loading" && <p className="placeholder">Loading the voices…</p>}
      {state.status === "failed" && (
        <p className="problem" role="alert">
          Could not load the voices: {state.problem.message} <code>{state.problem.code}</code>{" "}
          <button type="button" className="secondary" onClick={library.refresh}>
            Load the voices again
          </button>
        </p>
      )}
      {state.status === "ready" && (
        <ul className="voices" data-testid="voice-list">
          {voices.map((v) => (
            <li key={v.name} data-voice={v.name}>
              <span>
                <strong>{v.name}</strong>
                {v.builtin
                  ? " · built-in"
                  : ` · ${v.clip_seconds != null ? formatSeconds(v.clip_seconds) : "?"}${
                      v.clip_bytes != null ? ` · ${formatBytes(v.clip_bytes)}` : ""
                    }`}
              </span>
              {!v.builtin && (
                <button
                  type="button"
                  className="secondary danger"
                  disabled={busy}
                  aria-label={`Delete voice ${v.name}`}
                  onClick={() => void library.remove(v.name)}
                >
                  Delete
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <fieldset className="save-voice" disabled={limits === null}>
        <legend>Save a voice</legend>
        <div className="param">
          <label htmlFor={ids.name}>Voice name</label>
          <input
            id={ids.name}
            name="name"
            type="text"
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete="off"
            aria-describedby={ids.help}
            required
          />
        </div>
        <div className="param">
          <label htmlFor={ids.file}>Voice clip</label>
          <input
            ref={fileRef}
            id={ids.file}
            name="audio"
            type="file"
            accept="audio/*,.wav,.mp3,.ogg,.oga,.flac"
            aria-describedby={ids.help}
            onChange={(e) => void pick(e.target.files?.[0])}
          />
        </div>
        <small id={ids.help}>
          Letters, digits, <code>_ . -</code>, up to 64 characters; the clip as for a voice prompt.
        </small>
        <button type="submit" className="secondary" disabled={!file || name.trim() === "" || busy}>
          {busy ? "Working…" : "Save voice"}
        </button>
      </fieldset>
      <p className="problem" role="alert" data-testid="library-problem">
        {fileProblem ??
          (problem ? (
            <>
              {problem.message} <code>{problem.code}</code>
            </>
          ) : (
            ""
          ))}
      </p>
      <p className="hint" aria-live="polite" data-testid="library-status">
        {message}
      </p>
    </form>
  );
}
