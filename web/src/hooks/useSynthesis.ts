"use client";

// One synthesis at a time: progress (elapsed seconds), cancellation, the latest result and its
// deletion, and the status line / error they produce.
import { useEffect, useRef, useState } from "react";
import type { SynthesizeResponse } from "@/lib/api";
import { deleteSession, synthesize, type Problem, type SynthesisRequest } from "@/lib/client";
import { formatSeconds } from "@/lib/voice";

export interface Result {
  sessionId: string;
  /** The play URL, with a revision so the player reloads after each synthesis. */
  src: string;
  duration: number;
  sampleRate: number;
  voice: string;
  totalS: number;
  rtf: number | undefined;
}

/** `onSessionGone`: the backend no longer has the session (deleted, or expired). */
export function useSynthesis({ onSessionGone }: { onSessionGone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [status, setStatus] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [result, setResult] = useState<Result | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const revRef = useRef(0);

  useEffect(() => {
    if (!busy) return;
    const t0 = performance.now();
    setElapsed(0);
    const timer = window.setInterval(() => setElapsed((performance.now() - t0) / 1000), 100);
    return () => window.clearInterval(timer);
  }, [busy]);

  /** The backend's answer, or null when it failed or was cancelled (the problem/status say so). */
  async function run(request: SynthesisRequest): Promise<SynthesizeResponse | null> {
    setProblem(null);
    setStatus("");
    const ctrl = new AbortController();
    abortRef.current = ctrl;
    setBusy(true);
    try {
      const out = await synthesize(request, ctrl.signal);
      if (!out.ok) {
        if (ctrl.signal.aborted) {
          setStatus("Cancelled.");
        } else {
          if (out.problem.code === "session_not_found") onSessionGone();
          setProblem(out.problem);
        }
        return null;
      }
      const body = out.value;
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
      return body;
    } finally {
      abortRef.current = null;
      setBusy(false);
    }
  }

  function cancel() {
    abortRef.current?.abort();
  }

  /** Delete the result's audio and session on the server. */
  async function remove() {
    if (!result) return;
    setProblem(null);
    const out = await deleteSession(result.sessionId);
    if (!out.ok) {
      setProblem(out.problem);
      return;
    }
    setResult(null);
    onSessionGone();
    setStatus("Deleted the audio and the session from the server.");
  }

  return { busy, elapsed, status, problem, result, run, cancel, remove };
}
