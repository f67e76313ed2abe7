"use client";

// One synthesis at a time — plain (JSON answer), streamed (played while it arrives, with the
// session's chunk progress) or stateless at another speed (/tts) — with its elapsed time,
// cancellation, the latest result and its deletion, and the status line / error they produce.
import { useEffect, useRef, useState } from "react";
import type { AudioFormat } from "@/lib/api";
import {
  deleteSession,
  sessionMeta,
  speak,
  synthesize,
  synthesizeStream,
  type Problem,
  type SpeakRequest,
  type SynthesisRequest,
} from "@/lib/client";
import { StreamPlayer, wavHeader, type StreamStats } from "@/lib/stream";
import { formatSeconds } from "@/lib/voice";

/** A synthesis stored in the session on the server (played and downloaded through /play). */
export interface SessionResult {
  kind: "session";
  sessionId: string;
  /** /api/tts/play/{sid}: the stored audio (WAV; `?format=` transcodes). */
  playUrl: string;
  /** The play URL, with a revision so the player reloads after each synthesis. */
  src: string;
  duration: number;
  sampleRate: number;
  voice: string;
  totalS: number;
  rtf: number | undefined;
  streamed: boolean;
}

/** Audio made without a session (/tts at another speed): held in the browser. */
export interface FileResult {
  kind: "file";
  /** Object URL of the audio as the server sent it (what Download saves). */
  download: string;
  /** Object URL the player plays (raw pcm wrapped in a WAV header). */
  src: string;
  format: AudioFormat;
  voice: string;
  speed: number;
  totalS: number;
}

export type Result = SessionResult | FileResult;

/** Progress of a streamed synthesis. */
export interface StreamProgress extends StreamStats {
  sessionId: string | null;
  chunksDone: number | null;
  chunksTotal: number | null;
  done: boolean;
}

/** How often the session's progress is asked for while a stream plays. */
const POLL_MS = 400;

function revoke(r: Result | null) {
  if (r?.kind === "file") {
    URL.revokeObjectURL(r.download);
    if (r.src !== r.download) URL.revokeObjectURL(r.src);
  }
}

/** `onSessionGone`: the backend no longer has the session (deleted, or expired). */
export function useSynthesis({ onSessionGone }: { onSessionGone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [status, setStatus] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [result, setResultState] = useState<Result | null>(null);
  const [stream, setStream] = useState<StreamProgress | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const revRef = useRef(0);
  const resultRef = useRef<Result | null>(null);

  const setResult = (r: Result | null) => {
    if (resultRef.current !== r) revoke(resultRef.current);
    resultRef.current = r;
    setResultState(r);
  };

  useEffect(() => () => revoke(resultRef.current), []);

  useEffect(() => {
    if (!busy) return;
    const t0 = performance.now();
    setElapsed(0);
    const timer = window.setInterval(() => setElapsed((performance.now() - t0) / 1000), 100);
    return () => window.clearInterval(timer);
  }, [busy]);

  /** Starts a run; returns its controller. */
  function begin(): AbortController {
    setProblem(null);
    setStatus("");
    setStream(null);
    const ctrl = new AbortController();
    abortRef.current = ctrl;
    setBusy(true);
    return ctrl;
  }

  function end() {
    abortRef.current = null;
    setBusy(false);
  }

  function failed(ctrl: AbortController, p: Problem) {
    if (ctrl.signal.aborted || p.code === "cancelled") {
      setStatus("Cancelled.");
    } else {
      if (p.code === "session_not_found") onSessionGone();
      setProblem(p);
    }
  }

  function sessionResult(
    sessionId: string,
    fields: Omit<SessionResult, "kind" | "sessionId" | "playUrl" | "src">,
  ): SessionResult {
    revRef.current += 1;
    const playUrl = `/api/tts/play/${encodeURIComponent(sessionId)}`;
    return { kind: "session", sessionId, playUrl, src: `${playUrl}?v=${revRef.current}`, ...fields };
  }

  /** The session id and voice of the answer, or null when it failed or was cancelled. */
  async function run(request: SynthesisRequest): Promise<{ sessionId: string; voice: string } | null> {
    const ctrl = begin();
    try {
      const out = await synthesize(request, ctrl.signal);
      if (!out.ok) {
        failed(ctrl, out.problem);
        return null;
      }
      const body = out.value;
      setResult(
        sessionResult(body.session_id, {
          duration: body.duration,
          sampleRate: body.sample_rate,
          voice: body.voice,
          totalS: body.timings.total_s ?? 0,
          rtf: body.timings.rtf,
          streamed: false,
        }),
      );
      setStatus(`Done: ${formatSeconds(body.duration)} of audio.`);
      return { sessionId: body.session_id, voice: body.voice };
    } finally {
      end();
    }
  }

  /**
   * Streams the synthesis and plays it on `ctx` as it arrives (the context is made by the caller
   * while handling the click, so the browser lets it play); the stored file is the result.
   */
  async function runStream(
    request: SynthesisRequest,
    ctx: AudioContext,
  ): Promise<{ sessionId: string; voice: string } | null> {
    const ctrl = begin();
    const t0 = performance.now();
    const player = new StreamPlayer(ctx);
    let progress: StreamProgress = {
      sessionId: null,
      chunksDone: null,
      chunksTotal: null,
      done: false,
      receivedS: 0,
      buffers: 0,
    };
    const update = (p: Partial<StreamProgress>) => {
      progress = { ...progress, ...p };
      setStream(progress);
    };
    setStream(progress);
    let timer: number | undefined;
    const poll = async (sid: string) => {
      const meta = await sessionMeta(sid);
      if (meta.ok) update({ chunksDone: meta.value.chunks_done ?? null, chunksTotal: meta.value.chunks_total ?? null });
      return meta;
    };
    let bad: Problem | null = null;
    try {
      const out = await synthesizeStream(
        request,
        ctrl.signal,
        (sid) => {
          update({ sessionId: sid });
          timer = window.setInterval(() => void poll(sid), POLL_MS);
        },
        (bytes) => {
          if (bad) return;
          try {
            update(player.push(bytes));
          } catch (err) {
            bad = { code: "bad_stream", message: `The audio stream is unusable: ${err instanceof Error ? err.message : String(err)}` };
            ctrl.abort();
          }
        },
      );
      window.clearInterval(timer);
      if (bad || !out.ok) {
        player.stop();
        void ctx.close().catch(() => undefined);
        failed(ctrl, bad ?? (out as { ok: false; problem: Problem }).problem);
        return null;
      }
      update(player.flush());
      const sid = out.value.sessionId;
      const meta = await poll(sid);
      update({ done: true });
      const totalS = (performance.now() - t0) / 1000;
      const fields = meta.ok
        ? { duration: meta.value.duration, sampleRate: meta.value.sample_rate, voice: meta.value.voice }
        : { duration: progress.receivedS, sampleRate: 0, voice: "" };
      setResult(sessionResult(sid, { ...fields, totalS, rtf: undefined, streamed: true }));
      setStatus(`Done: ${formatSeconds(fields.duration)} of audio, streamed.`);
      return { sessionId: sid, voice: fields.voice };
    } finally {
      window.clearInterval(timer);
      end();
    }
  }

  /** Stateless synthesis at another speed (/tts): the audio, held in the browser. */
  async function runSpeak(request: SpeakRequest, sampleRate: number): Promise<boolean> {
    const ctrl = begin();
    const t0 = performance.now();
    try {
      const out = await speak(request, ctrl.signal);
      if (!out.ok) {
        failed(ctrl, out.problem);
        return false;
      }
      const blob = out.value;
      const download = URL.createObjectURL(blob);
      const src =
        request.format === "pcm"
          ? URL.createObjectURL(
              new Blob([wavHeader(blob.size, { sampleRate, channels: 1 }) as BlobPart, blob], { type: "audio/wav" }),
            )
          : download;
      setResult({
        kind: "file",
        download,
        src,
        format: request.format,
        voice: request.voice,
        speed: request.speed,
        totalS: (performance.now() - t0) / 1000,
      });
      setStatus(`Done at ${request.speed}× speed (not stored on the server).`);
      return true;
    } finally {
      end();
    }
  }

  function cancel() {
    abortRef.current?.abort();
  }

  /** Delete the result's audio and session on the server (a browser-held result is dropped). */
  async function remove() {
    if (!result) return;
    setProblem(null);
    if (result.kind === "file") {
      setResult(null);
      setStatus("Removed the audio.");
      return;
    }
    const out = await deleteSession(result.sessionId);
    if (!out.ok) {
      setProblem(out.problem);
      return;
    }
    setResult(null);
    setStream(null);
    onSessionGone();
    setStatus("Deleted the audio and the session from the server.");
  }

  return { busy, elapsed, status, problem, result, stream, run, runStream, runSpeak, cancel, remove };
}
