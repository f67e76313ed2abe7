// Output choices: the download format (from /info.formats) and the speed. Only type imports here:
// tests/contract.test.mjs transpiles this file on its own and checks the speeds against the
// documented range of /v1/audio/speech's `speed` (the /tts `rate` takes the same multipliers).
import type { AudioFormat } from "./api";

/**
 * Speeds offered (tempo multipliers; 1 = as spoken). POST /synthesize has no speed: another speed
 * goes through the stateless POST /tts (`rate`), which stores nothing and takes only named voices.
 */
export const SPEED_CHOICES = [0.5, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 2] as const;

/** File name extension of each format (opus comes in an Ogg container). */
export const FORMAT_EXT: Record<AudioFormat, string> = {
  wav: "wav",
  mp3: "mp3",
  opus: "ogg",
  flac: "flac",
  pcm: "pcm",
};

export const FORMAT_LABEL: Record<AudioFormat, string> = {
  wav: "WAV (16-bit)",
  mp3: "MP3",
  opus: "Opus (Ogg)",
  flac: "FLAC",
  pcm: "Raw PCM (16-bit, no header)",
};

/** The URL a stored session's audio downloads from in `format` (the stored WAV as it is for wav). */
export function downloadUrl(playUrl: string, format: AudioFormat): string {
  return format === "wav" ? playUrl : `${playUrl}?format=${encodeURIComponent(format)}`;
}
