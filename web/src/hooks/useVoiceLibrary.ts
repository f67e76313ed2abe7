"use client";

// The server's voice library (GET/POST/DELETE /api/tts/voices): the list, saving a clip under a
// name, deleting a saved voice; the backend's errors as they are.
import { useCallback, useEffect, useState } from "react";
import type { VoiceInfo } from "@/lib/api";
import { deleteVoice, listVoices, saveVoice, type Problem } from "@/lib/client";

export type LibraryState =
  | { status: "loading" }
  | { status: "ready"; voices: VoiceInfo[] }
  | { status: "failed"; problem: Problem };

const NONE: VoiceInfo[] = [];

export function useVoiceLibrary() {
  const [state, setState] = useState<LibraryState>({ status: "loading" });
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [message, setMessage] = useState("");
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const ctrl = new AbortController();
    void listVoices(ctrl.signal).then((out) => {
      if (ctrl.signal.aborted) return;
      setState(out.ok ? { status: "ready", voices: out.value } : { status: "failed", problem: out.problem });
    });
    return () => ctrl.abort();
  }, [attempt]);

  const refresh = useCallback(() => setAttempt((n) => n + 1), []);

  /** Reads the list again now (after a change, so callers see it when they go on). */
  const reload = useCallback(async () => {
    const out = await listVoices();
    setState(out.ok ? { status: "ready", voices: out.value } : { status: "failed", problem: out.problem });
  }, []);

  /** Saves `file` as `name`; true when saved. */
  const save = useCallback(
    async (name: string, file: File): Promise<boolean> => {
      setBusy(true);
      setProblem(null);
      setMessage("");
      try {
        const out = await saveVoice(name, file);
        if (!out.ok) {
          setProblem(out.problem);
          return false;
        }
        await reload();
        setMessage(`Saved the voice ${out.value.name}.`);
        return true;
      } finally {
        setBusy(false);
      }
    },
    [reload],
  );

  const remove = useCallback(
    async (name: string): Promise<boolean> => {
      setBusy(true);
      setProblem(null);
      setMessage("");
      try {
        const out = await deleteVoice(name);
        if (!out.ok) {
          setProblem(out.problem);
          if (out.problem.code === "voice_not_found") await reload();
          return false;
        }
        await reload();
        setMessage(`Deleted the voice ${name}.`);
        return true;
      } finally {
        setBusy(false);
      }
    },
    [reload],
  );

  const voices = state.status === "ready" ? state.voices : NONE;
  return { state, voices, busy, problem, message, refresh, save, remove };
}

export type VoiceLibrary = ReturnType<typeof useVoiceLibrary>;
