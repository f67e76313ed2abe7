"use client";

// The backend session this browser synthesizes in (and the name of the voice uploaded into it),
// kept in localStorage so a reload reuses the uploaded voice.
import { useCallback, useEffect, useState } from "react";

export interface StoredSession {
  sessionId: string;
  /** File name of the voice uploaded into the session; null: the built-in voice. */
  voiceName: string | null;
}

const STORAGE_KEY = "chatterbox.session";

function load(): StoredSession | null {
  try {
    const raw = window.localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<StoredSession>;
    return typeof v.sessionId === "string" ? { sessionId: v.sessionId, voiceName: v.voiceName ?? null } : null;
  } catch {
    return null;
  }
}

function store(v: StoredSession | null) {
  try {
    if (v) window.localStorage.setItem(STORAGE_KEY, JSON.stringify(v));
    else window.localStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage unavailable (private mode): the session lives as long as the page
  }
}

export function useStoredSession() {
  const [session, setSession] = useState<StoredSession | null>(null);

  // After hydration: the server render has no storage.
  useEffect(() => {
    setSession(load());
  }, []);

  const save = useCallback((next: StoredSession | null) => {
    setSession(next);
    store(next);
  }, []);

  /** The session stays, its voice is no longer used. */
  const dropVoice = useCallback(() => {
    if (session) save({ ...session, voiceName: null });
  }, [session, save]);

  return { session, save, dropVoice };
}
