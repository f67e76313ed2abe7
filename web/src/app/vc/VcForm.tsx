"use client";

// Voice conversion (POST /api/tts/vc → the backend's POST /vc): a recording to convert, a target
// voice (the built-in one, a saved one, or a clip of one's own) and the format to answer in. The
// clip checks and the format list come from the backend's /info.
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { useServerInfo } from "@/hooks/useServerInfo";
import { useVoiceLibrary } from "@/hooks/useVoiceLibrary";
import type { AudioFormat } from "@/lib/api";
import { convert, type Problem } from "@/lib/client";
import { FORMAT_EXT, FORMAT_LABEL } from "@/lib/output";
import { wavHeader } from "@/lib/stream";
import { checkVoice, formatBytes, formatSeconds, type VoiceLimits } from "@/lib/voice";

const CLIP = ":clip";

/**
 * A file input with the browser-side audio check (`limits`: a voice clip's; the recording to
 * convert is checked for its size and for being audio, its length is the backend's to judge);
 * `onFile` gets the file once it passes.
 */
function AudioInput({
  label,
  limits,
  file,
  onFile,
  testId,
}: {
  label: string;
  limits: VoiceLimits | null;
  file: File | null;
  onFile: (f: File | null) => void;
  testId: string;
}) {
  const id = useId();
  const ref = useRef<HTMLInputElement>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [info, setInfo] = useState("");
  async function pick(f: File | undefined) {
    onFile(null);
    setProblem(null);
    setInfo("");
    if (!f || !limits) return;
    const check = await checkVoice(f, limits);
    if (check.ok) {
      onFile(f);
      setInfo(`${formatBytes(f.size)}${check.durationS !== null ? ` · ${formatSeconds(check.durationS)}` : ""}`);
    } else {
      setProblem(check.message);
      if (ref.current) ref.current.value = "";
    }
  }
  return (
    <div className="param">
      <label htmlFor={id}>{label}</label>
      <input
        ref={ref}
        id={id}
        type="file"
        accept="audio/*,.wav,.mp3,.ogg,.oga,.flac"
        disabled={limits === null}
        onChange={(e) => void pick(e.target.files?.[0])}
        aria-describedby={`${id}-status`}
      />
      <small id={`${id}-status`} data-testid={`${testId}-status`}>
        {file ? info : ""}
      </small>
      <p className="problem" role="alert" data-testid={`${testId}-problem`}>
        {problem ?? ""}
      </p>
    </div>
  );
}

interface Converted {
  download: string;
  src: string;
  format: AudioFormat;
  totalS: number;
}

export default function VcForm() {
  const server = useServerInfo();
  const info = server.state.status === "ready" ? server.state.info : null;
  const library = useVoiceLibrary();
  const ids = { target: useId(), format: useId() };
  const [source, setSource] = useState<File | null>(null);
  const [target, setTarget] = useState("default");
  const [prompt, setPrompt] = useState<File | null>(null);
  const [format, setFormat] = useState<AudioFormat>("wav");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [status, setStatus] = useState("");
  const [result, setResult] = useState<Converted | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const resultRef = useRef<Converted | null>(null);

  const formats = info?.formats ?? [];
  useEffect(() => {
    if (formats.length > 0 && !formats.includes(format)) setFormat(formats[0]);
  }, [formats, format]);
  useEffect(
    () => () => {
      const r = resultRef.current;
      if (r) {
        URL.revokeObjectURL(r.download);
        if (r.src !== r.download) URL.revokeObjectURL(r.src);
      }
    },
    [],
  );

  const names = useMemo(
    () => (library.voices.length > 0 ? library.voices.map((v) => v.name) : ["default"]),
    [library.voices],
  );
  const clip = target === CLIP;
  const canSubmit = info !== null && !busy && source !== null && (!clip || prompt !== null);

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!canSubmit || !source || !info) return;
    setProblem(null);
    setStatus("");
    setBusy(true);
    const ctrl = new AbortController();
    abortRef.current = ctrl;
    const t0 = performance.now();
    try {
      const out = await convert(
        { audio: source, target: clip && prompt ? { voicePrompt: prompt } : { voice: target }, format },
        ctrl.signal,
      );
      if (!out.ok) {
        if (out.problem.code === "cancelled") setStatus("Cancelled.");
        else setProblem(out.problem);
        return;
      }
      const blob = out.value;
      const download = URL.createObjectURL(blob);
      const src =
        format === "pcm"
          ? URL.createObjectURL(
              new Blob([wavHeader(blob.size, { sampleRate: info.sampleRate, channels: 1 }) as BlobPart, blob], {
                type: "audio/wav",
              }),
            )
          : download;
      const prev = resultRef.current;
      if (prev) {
        URL.revokeObjectURL(prev.download);
        if (prev.src !== prev.download) URL.revokeObjectURL(prev.src);
      }
      const r = { download, src, format, totalS: (performance.now() - t0) / 1000 };
      resultRef.current = r;
      setResult(r);
      setStatus(`Done: converted in ${r.totalS.toFixed(1)} s.`);
    } finally {
      abortRef.current = null;
      setBusy(false);
    }
  }

  const infoProblem: Problem | null =
    server.state.status === "failed"
      ? { code: server.state.problem.code, message: `Could not load the speech server's limits: ${server.state.problem.message}` }
      : null;
  const shown = problem ?? infoProblem;
  const limits = info?.limits ?? null;

  return (
    <form className="tts" onSubmit={submit} aria-busy={busy}>
      <section className="card">
        <AudioInput
          label="Speech to convert"
          limits={limits && { max_upload_bytes: limits.max_upload_bytes, min_voice_seconds: 0, max_voice_seconds: Infinity }}
          file={source}
          onFile={setSource}
          testId="vc-source"
        />
      </section>
      <section className="card stack">
        <div className="param">
          <label htmlFor={ids.target}>Target voice</label>
          <select id={ids.target} value={target} onChange={(e) => setTarget(e.target.value)}>
            {names.map((n) => (
              <option key={n} value={n}>
                {n === "default" ? "Built-in voice (default)" : n}
              </option>
            ))}
            <option value={CLIP}>A clip of my own…</option>
          </select>
        </div>
        {clip && (
          <AudioInput label="Target voice clip" limits={limits} file={prompt} onFile={setPrompt} testId="vc-prompt" />
        )}
        {formats.length > 0 && (
          <div className="param">
            <label htmlFor={ids.format}>Format</label>
            <select id={ids.format} value={format} onChange={(e) => setFormat(e.target.value as AudioFormat)}>
              {formats.map((f) => (
                <option key={f} value={f}>
                  {FORMAT_LABEL[f]}
                </option>
              ))}
            </select>
          </div>
        )}
      </section>
      <section className="actions">
        <button type="submit" className="primary" disabled={!canSubmit}>
          {busy ? "Converting…" : "Convert"}
        </button>
        {busy && (
          <button type="button" className="secondary" onClick={() => abortRef.current?.abort()}>
            Cancel
          </button>
        )}
        {server.state.status === "failed" && (
          <button type="button" className="secondary" onClick={server.retry}>
            Retry
          </button>
        )}
        <div className="progress" aria-live="polite" data-testid="status">
          {busy ? <progress aria-label="Conversion in progress" /> : <span>{status}</span>}
        </div>
      </section>
      <div className="problem big" role="alert" data-testid="error">
        {shown ? (
          <>
            {shown.message} <code>{shown.code}</code>
          </>
        ) : null}
      </div>
      <section className="card result" aria-label="Result">
        {result ? (
          <>
            <audio controls preload="auto" src={result.src} data-testid="player" />
            <div className="result-actions">
              <a
                className="button secondary"
                href={result.download}
                download={`converted.${FORMAT_EXT[result.format]}`}
                data-testid="download"
              >
                Download {result.format}
              </a>
            </div>
          </>
        ) : (
          <p className="placeholder">The converted audio will appear here.</p>
        )}
      </section>
    </form>
  );
}
