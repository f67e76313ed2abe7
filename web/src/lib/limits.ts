// Limits the UI enforces before sending anything; the backend's defaults, overridable with the same
// numbers as the backend's CHATTERBOX_* settings through TTS_* variables on the web server.
export interface Limits {
  maxTextChars: number;
  maxUploadBytes: number;
  minVoiceSeconds: number;
  maxVoiceSeconds: number;
}

function num(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** Server side only (reads the environment at request time). */
export function limitsFromEnv(): Limits {
  return {
    maxTextChars: num("TTS_MAX_TEXT_CHARS", 2000),
    maxUploadBytes: num("TTS_MAX_UPLOAD_BYTES", 20 * 1024 * 1024),
    minVoiceSeconds: num("TTS_MIN_VOICE_SECONDS", 1),
    maxVoiceSeconds: num("TTS_MAX_VOICE_SECONDS", 60),
  };
}
