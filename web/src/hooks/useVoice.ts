"use client";

// The voice clip picked in the browser: checked against the backend's limits before it is used,
// and marked once it has been uploaded into the session (later syntheses reuse it without resending).
import { useCallback, useRef, useState } from "react";
import { checkVoice, type VoiceLimits } from "@/lib/voice";

export interface Voice {
  file: File;
  durationS: number | null;
  /** Already uploaded into the current session: later syntheses reuse it without resending. */
  inSession: boolean;
}

/** `limits` null: not known yet (files are ignored until they are). */
export function useVoice(limits: VoiceLimits | null) {
  const [voice, setVoice] = useState<Voice | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);

  const clearInput = () => {
    if (inputRef.current) inputRef.current.value = "";
  };

  const take = useCallback(
    async (file: File | undefined) => {
      if (!file || !limits) return;
      setProblem(null);
      setChecking(true);
      const check = await checkVoice(file, limits);
      setChecking(false);
      if (check.ok) {
        setVoice({ file, durationS: check.durationS, inSession: false });
      } else {
        setProblem(check.message);
        clearInput();
      }
    },
    [limits],
  );

  const clear = useCallback(() => {
    setVoice(null);
    setProblem(null);
    clearInput();
  }, []);

  /** `file` is now the session's voice (if it is still the one picked). */
  const markUploaded = useCallback((file: File) => {
    setVoice((v) => (v && v.file === file ? { ...v, inSession: true } : v));
  }, []);

  /** The session is gone: the picked clip has to be uploaded again. */
  const markNotUploaded = useCallback(() => {
    setVoice((v) => (v ? { ...v, inSession: false } : v));
  }, []);

  return { voice, problem, checking, inputRef, take, clear, markUploaded, markNotUploaded };
}

export type VoiceState = ReturnType<typeof useVoice>;
