"use client";

import { useCallback, useEffect, useId, useRef, useState } from "react";
import type { ApiError, SynthesizeForm, SynthesizeResponse } from "@/lib/api";
import { isApiError } from "@/lib/api";
import type { Limits } from "@/lib/limits";
import { PARAMS, defaultParams, type ParamValues } from "@/lib/params";
import { checkVoice, formatBytes, formatSeconds } from "@/lib/voice";

interface Voice {
  file: File;
  durationS: number | null;
  /** Already uploaded into the current session: later syntheses reuse it without resending. */
  inSession: boolean;
}

interface Result {
  sessionId: string;
  src: string;
  duration: number;
  sampleRate: number;
  voice: string;
  totalS: number;
  rtf: number | undefined;
}

type Problem = ApiError["error"];

const STORAGE_KEY = "chatterbox.session";

interface Stored {
  sessionId: string;
  voiceName: string | null;
}

function loadStored(): Stored | null {
  try {
    const raw = window.localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<Stored>;
    return typeof v.sessionId === "string" ? { sessionId: v.sessionId, voiceName: v.voiceName ?? null } : null;
  } catch {
    return null;
  }
}

function saveStored(v: Stored | null) {
  try {
    if (v) window.localStorage.setItem(STORAGE_KEY, JSON.stringify(v));
    else window.localStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage unavailable (private mode): the session lives as long as the page
  }
}

async function readProblem(res: Response): Promise<Problem> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON
  }
  if (isApiError(body)) return body.error;
  return { code: `http_${res.status}`, message: `The server answered ${res.status} ${res.statusText}.` };
}

export default function TtsForm({ limits }: { limits: Limits }) {
  const ids = { text: useId(), counter: useId(), voice: useId(), voiceHelp: useId() };
  const [text, setText] = useState("");
  const [voice, setVoice] = useState<Voice | null>(null);
  const [voiceProblem, setVoiceProblem] = useState<string | null>(null);
  const [checkingVoice, setCheckingVoice] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [params, setParams] = useState<ParamValues>(defaultParams);
  const [session, setSession] = useState<Stored | null>(null);
  const [busy, setBusy] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [status, setStatus] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [result, setResult] = useState<Result | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const revRef = useRef(0);

  useEffect(() => {
    setSession(loadStored());
  }, []);

  useEffect(() => {
    if (!busy) return;
    const t0 = performance.now();
    setElapsed(0);
    const timer = window.setInterval(() => setElapsed((performance.now() - t0) / 1000), 100);
    return () => window.clearInterval(timer);
  }, [busy]);

  const chars = [...text].length;
  const overLimit = chars > limits.maxTextChars;
  const sessionVoice = session?.voiceName ?? null;

  const takeFile = useCallback(
    async (file: File | undefined) => {
      if (!file) return;
      setVoiceProblem(null);
      setCheckingVoice(true);
      const check = await checkVoice(file, limits);
      setCheckingVoice(false);
      if (check.ok) {
        setVoice({ file, durationS: check.durationS, inSession: false });
      } else {
        setVoiceProblem(check.message);
        if (fileRef.current) fileRef.current.value = "";
      }
    },
    [limits],
  );

  function removeVoice() {
    setVoice(null);
    setVoiceProblem(null);
    if (fileRef.current) fileRef.current.value = "";
    if (session) {
      const next = { ...session, voiceName: null };
      setSession(next);
      saveStored(next);
    }
  }

  function forgetSession() {
    setSession(null);
    saveStored(null);
    setVoice((v) => (v ? { ...v, inSession: false } : v));
  }

  async function synthesize(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy || overLimit || !text.trim() || checkingVoice) return;
    setProblem(null);
    setStatus("");
    const form = new FormData();
    const field = (k: keyof SynthesizeForm, v: string) => form.append(k, v);
    field("text", text);
    if (session) field("session_id", session.sessionId);
    if (voice && !voice.inSession) form.append("voice_prompt" satisfies keyof SynthesizeForm, voice.file, voice.file.name);
    else if (!voice && !sessionVoice) field("voice", "default");
    for (const p of PARAMS) {
      const v = params[p.key].trim();
      if (v !== "") field(p.key, v);
    }
    const ctrl = new AbortController();
    abortRef.current = ctrl;
    setBusy(true);
    try {
      const res = await fetch("/api/tts/synthesize", { method: "POST", body: form, signal: ctrl.signal });
      if (!res.ok) {
        const p = await readProblem(res);
        if (p.code === "session_not_found") forgetSession();
        setProblem(p);
        return;
      }
      const body = (await res.json()) as SynthesizeResponse;
      const voiceName = voice ? voice.file.name : body.voice === "upload" ? sessionVoice : null;
      const stored = { sessionId: body.session_id, voiceName };
      setSession(stored);
      saveStored(stored);
      if (voice) setVoice({ ...voice, inSession: true });
      revRef.current += 1;
      setResult({
        sessionId: body.session_id,
        src: `${body.play_url}?v=${revRef.current}`,
        duration: body.duration,
        sampleRate: body.sample_rate,
        voice: body.voice,
        totalS: body.timings.total_s ?? 0,
        rtf: body.timings.rtf,
      });
      setStatus(`Done: ${formatSeconds(body.duration)} of audio.`);
    } catch (err) {
      if (ctrl.signal.aborted) setStatus("Cancelled.");
      else
        setProblem({
          code: "network",
          message: `Could not reach the web server: ${err instanceof Error ? err.message : String(err)}`,
        });
    } finally {
      abortRef.current = null;
      setBusy(false);
    }
  }

  async function remove() {
    if (!result) return;
    setProblem(null);
    try {
      const res = await fetch("/api/tts/delete", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ session_id: result.sessionId }),
      });
      if (!res.ok) {
        const p = await readProblem(res);
        if (p.code !== "session_not_found") {
          setProblem(p);
          return;
        }
      }
      setResult(null);
      forgetSession();
      setStatus("Deleted the audio and the session from the server.");
    } catch (err) {
      setProblem({ code: "network", message: `Could not delete: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  const canSubmit = !busy && !checkingVoice && !overLimit && text.trim().length > 0;

  return (
    <form className="tts" onSubmit={synthesize} aria-busy={busy}>
      <section className="card">
        <div className="label-row">
          <label htmlFor={ids.text}>Text</label>
          <span id={ids.counter} className={overLimit ? "counter over" : "counter"} data-testid="counter">
            {chars} / {limits.maxTextChars}
          </span>
        </div>
        <textarea
          id={ids.text}
          name="text"
          rows={6}
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-describedby={ids.counter}
          aria-invalid={overLimit}
          placeholder="Hello! This is my voice, cloned from a few seconds of audio."
          required
        />
        <p className="hint" aria-live="polite">
          {overLimit ? `Too long by ${chars - limits.maxTextChars} characters.` : "\u00a0"}
        </p>
      </section>

      <section className="card">
        <div className="label-row">
          <span className="label" id={`${ids.voice}-label`}>
            Voice prompt <span className="optional">(optional)</span>
          </span>
        </div>
        <div
          className={dragging ? "drop dragging" : "drop"}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => {
            e.preventDefault();
            setDragging(false);
            void takeFile(e.dataTransfer.files[0]);
          }}
        >
          <input
            ref={fileRef}
            id={ids.voice}
            className="visually-hidden"
            type="file"
            name="voice_prompt"
            accept="audio/*,.wav,.mp3,.ogg,.oga,.flac"
            aria-describedby={ids.voiceHelp}
            onChange={(e) => void takeFile(e.target.files?.[0])}
          />
          <div className="drop-body" data-testid="voice-status">
            {checkingVoice ? (
              <span>Checking the clip…</span>
            ) : voice ? (
              <span>
                <strong>{voice.file.name}</strong> · {formatBytes(voice.file.size)}
                {voice.durationS !== null ? ` · ${formatSeconds(voice.durationS)}` : ""}
                {voice.inSession ? " · kept for this session" : ""}
              </span>
            ) : sessionVoice ? (
              <span>
                Using <strong>{sessionVoice}</strong> from this session
              </span>
            ) : (
              <span>Built-in voice. Drop a clip here to clone another voice.</span>
            )}
          </div>
          <div className="drop-actions">
            <label htmlFor={ids.voice} className="button secondary">
              {voice || sessionVoice ? "Replace…" : "Choose a file…"}
            </label>
            {(voice || sessionVoice) && (
              <button type="button" className="secondary" onClick={removeVoice}>
                Use built-in voice
              </button>
            )}
          </div>
        </div>
        <p id={ids.voiceHelp} className="hint">
          wav, mp3, ogg or flac; {limits.minVoiceSeconds}–{limits.maxVoiceSeconds} s (the first 10 s are used); up
          to {formatBytes(limits.maxUploadBytes)}.
        </p>
        <p className="problem" role="alert" data-testid="voice-problem">
          {voiceProblem ?? ""}
        </p>
      </section>

      <details className="card advanced">
        <summary>Advanced</summary>
        <div className="params">
          {PARAMS.map((p) => (
            <div className="param" key={p.key}>
              <label htmlFor={`param-${p.key}`}>{p.label}</label>
              <input
                id={`param-${p.key}`}
                name={p.key}
                type="number"
                inputMode={p.step === "1" ? "numeric" : "decimal"}
                min={p.min}
                max={p.max ?? undefined}
                step={p.step}
                value={params[p.key]}
                placeholder={p.default === "" ? "random" : p.default}
                onChange={(e) => setParams({ ...params, [p.key]: e.target.value })}
                aria-describedby={`param-${p.key}-help`}
              />
              <small id={`param-${p.key}-help`}>{p.help}</small>
            </div>
          ))}
        </div>
        <button type="button" className="secondary" onClick={() => setParams(defaultParams())}>
          Reset to defaults
        </button>
      </details>

      <section className="actions">
        <button type="submit" className="primary" disabled={!canSubmit}>
          {busy ? "Synthesizing…" : "Synthesize"}
        </button>
        {busy && (
          <button type="button" className="secondary" onClick={() => abortRef.current?.abort()}>
            Cancel
          </button>
        )}
        <div className="progress" aria-live="polite" data-testid="status">
          {busy ? (
            <>
              <progress aria-label="Synthesis in progress" />
              <span>{elapsed.toFixed(1)} s</span>
            </>
          ) : (
            <span>{status}</span>
          )}
        </div>
      </section>

      <div className="problem big" role="alert" data-testid="error">
        {problem ? (
          <>
            {problem.message} <code>{problem.code}</code>
          </>
        ) : null}
      </div>

      <section className="card result" aria-label="Result">
        {result ? (
          <>
            <audio controls preload="auto" src={result.src} data-testid="player">
              <a href={result.src}>Download the audio</a>
            </audio>
            <p className="meta">
              {formatSeconds(result.duration)} at {result.sampleRate / 1000} kHz · voice: {result.voice} · took{" "}
              {result.totalS.toFixed(1)} s
              {result.rtf !== undefined ? ` (RTF ${result.rtf.toFixed(2)})` : ""}
            </p>
            <div className="result-actions">
              <a className="button secondary" href={result.src} download={`speech-${result.sessionId.slice(0, 8)}.wav`}>
                Download
              </a>
              <button type="button" className="secondary danger" onClick={() => void remove()}>
                Delete
              </button>
            </div>
          </>
        ) : (
          <p className="placeholder">The audio will appear here.</p>
        )}
      </section>
    </form>
  );
}
