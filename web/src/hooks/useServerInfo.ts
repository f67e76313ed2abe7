"use client";

// The backend's limits and generation parameters (GET /api/tts/info), loaded once per page.
import { useCallback, useEffect, useState } from "react";
import { fetchInfo, type Problem } from "@/lib/client";
import type { UiInfo } from "@/lib/info";

export type ServerInfo =
  | { status: "loading" }
  | { status: "ready"; info: UiInfo }
  | { status: "failed"; problem: Problem };

export function useServerInfo(): { state: ServerInfo; retry: () => void } {
  const [attempt, setAttempt] = useState(0);
  const [state, setState] = useState<ServerInfo>({ status: "loading" });

  useEffect(() => {
    const ctrl = new AbortController();
    setState({ status: "loading" });
    void fetchInfo(ctrl.signal).then((out) => {
      if (ctrl.signal.aborted) return;
      setState(out.ok ? { status: "ready", info: out.value } : { status: "failed", problem: out.problem });
    });
    return () => ctrl.abort();
  }, [attempt]);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  return { state, retry };
}
