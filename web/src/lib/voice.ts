// Browser-side checks of a voice clip: the same rules (and the limits from its /info) the backend
// applies, so a bad file is refused before it is uploaded.
import type { UiLimits } from "./info";

export type VoiceLimits = Pick<UiLimits, "max_upload_bytes" | "min_voice_seconds" | "max_voice_seconds">;

export type VoiceCheck = { ok: true; durationS: number | null } | { ok: false; message: string };

const AUDIO_EXT = /\.(wav|wave|mp3|ogg|oga|flac)$/i;

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}

export function formatSeconds(s: number): string {
  return s >= 10 ? `${s.toFixed(0)} s` : `${s.toFixed(1)} s`;
}

type AudioCtor = new () => BaseAudioContext & { close?: () => Promise<void> };

async function decodeDuration(file: File): Promise<number | null> {
  const w = window as unknown as { AudioContext?: AudioCtor; webkitAudioContext?: AudioCtor };
  const Ctor = w.AudioContext ?? w.webkitAudioContext;
  if (!Ctor) return null; // cannot check here; the server will
  const ctx = new Ctor();
  try {
    const buf = await ctx.decodeAudioData(await file.arrayBuffer());
    return buf.duration;
  } finally {
    void ctx.close?.().catch(() => undefined);
  }
}

export async function checkVoice(file: File, limits: VoiceLimits): Promise<VoiceCheck> {
  if (file.size > limits.max_upload_bytes) {
    return {
      ok: false,
      message: `${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(limits.max_upload_bytes)}.`,
    };
  }
  const looksAudio = file.type.startsWith("audio/") || AUDIO_EXT.test(file.name);
  if (!looksAudio || file.size === 0) {
    return { ok: false, message: `${file.name} is not an audio file. Use wav, mp3, ogg or flac.` };
  }
  let durationS: number | null;
  try {
    durationS = await decodeDuration(file);
  } catch {
    return {
      ok: false,
      message: `${file.name} could not be decoded as audio. Use wav, mp3, ogg or flac.`,
    };
  }
  if (durationS !== null) {
    if (durationS < limits.min_voice_seconds) {
      return {
        ok: false,
        message: `The clip is ${durationS.toFixed(2)} s; at least ${limits.min_voice_seconds} s is needed.`,
      };
    }
    if (durationS > limits.max_voice_seconds) {
      return {
        ok: false,
        message: `The clip is ${formatSeconds(durationS)}; the limit is ${limits.max_voice_seconds} s.`,
      };
    }
  }
  return { ok: true, durationS };
}
