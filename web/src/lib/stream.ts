// Playing a streamed synthesis as it arrives: the body of POST /synthesize with `stream: true` is a
// 44-byte WAV header whose sizes are unknown (0xFFFFFFFF), then 16-bit little-endian PCM. The PCM is
// cut into AudioBuffers and scheduled back to back on a Web Audio context, so playback starts with
// the first chunk and continues without gaps while the rest is produced.
// Only type imports here: tests/contract.test.mjs transpiles this file on its own.

export interface PcmFormat {
  sampleRate: number;
  channels: number;
}

const HEADER_BYTES = 44;

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

/** The format of a 44-byte PCM WAV header; throws an Error saying what is wrong with it. */
export function parseWavHeader(b: Uint8Array): PcmFormat {
  if (b.length < HEADER_BYTES) throw new Error("the WAV header is incomplete");
  if (ascii(b, 0, 4) !== "RIFF" || ascii(b, 8, 4) !== "WAVE" || ascii(b, 12, 4) !== "fmt ") {
    throw new Error("the stream is not a WAV file");
  }
  const v = new DataView(b.buffer, b.byteOffset, HEADER_BYTES);
  const pcm = v.getUint16(20, true) === 1;
  const channels = v.getUint16(22, true);
  const sampleRate = v.getUint32(24, true);
  const bits = v.getUint16(34, true);
  if (!pcm || bits !== 16 || channels < 1 || sampleRate < 1 || ascii(b, 36, 4) !== "data") {
    throw new Error("the stream is not 16-bit PCM WAV");
  }
  return { sampleRate, channels };
}

/**
 * Reassembles a streamed WAV body from arbitrary pieces: the header first, then whole frames of
 * samples as floats in [-1, 1), one array per channel (a piece may end inside a sample).
 */
export class WavStreamDecoder {
  format: PcmFormat | null = null;
  private pending = new Uint8Array(0);

  /** Frames completed by `bytes` (none until the header is complete). */
  push(bytes: Uint8Array): Float32Array[] {
    const all = new Uint8Array(this.pending.length + bytes.length);
    all.set(this.pending);
    all.set(bytes, this.pending.length);
    let at = 0;
    if (!this.format) {
      if (all.length < HEADER_BYTES) {
        this.pending = all;
        return [];
      }
      this.format = parseWavHeader(all);
      at = HEADER_BYTES;
    }
    const { channels } = this.format;
    const frameBytes = 2 * channels;
    const frames = Math.floor((all.length - at) / frameBytes);
    const v = new DataView(all.buffer, all.byteOffset + at, frames * frameBytes);
    const out = Array.from({ length: channels }, () => new Float32Array(frames));
    for (let i = 0; i < frames; i++) {
      for (let c = 0; c < channels; c++) out[c][i] = v.getInt16((i * channels + c) * 2, true) / 32768;
    }
    this.pending = all.slice(at + frames * frameBytes);
    return frames > 0 ? out : [];
  }
}

/** A 44-byte WAV header for `dataBytes` of 16-bit PCM (raw `pcm` downloads are wrapped to play). */
export function wavHeader(dataBytes: number, { sampleRate, channels }: PcmFormat): Uint8Array {
  const b = new Uint8Array(HEADER_BYTES);
  const v = new DataView(b.buffer);
  const text = (at: number, s: string) => [...s].forEach((ch, i) => v.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  v.setUint32(4, 36 + dataBytes, true);
  text(8, "WAVE");
  text(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * channels * 2, true);
  v.setUint16(32, channels * 2, true);
  v.setUint16(34, 16, true);
  text(36, "data");
  v.setUint32(40, dataBytes, true);
  return b;
}

export interface StreamStats {
  /** Seconds of audio received. */
  receivedS: number;
  /** AudioBuffers scheduled on the context. */
  buffers: number;
}

/** Least audio to schedule as one buffer (fewer, longer buffers; the rest waits for more). */
const MIN_BUFFER_S = 0.1;
/** Lead given to the first buffer (and after an underrun) so it starts cleanly. */
const LEAD_S = 0.05;

/** Schedules the decoded PCM of a stream on `ctx`, gaplessly, as it arrives. */
export class StreamPlayer {
  private decoder = new WavStreamDecoder();
  private held: Float32Array[][] = [];
  private heldFrames = 0;
  private next = 0;
  private sources: AudioBufferSourceNode[] = [];
  stats: StreamStats = { receivedS: 0, buffers: 0 };

  constructor(private ctx: AudioContext) {}

  /** Takes the next piece of the body; throws when the header is not 16-bit PCM WAV. */
  push(bytes: Uint8Array): StreamStats {
    const frames = this.decoder.push(bytes);
    const format = this.decoder.format;
    if (format && frames.length > 0) {
      this.held.push(frames);
      this.heldFrames += frames[0].length;
      this.stats = { ...this.stats, receivedS: this.stats.receivedS + frames[0].length / format.sampleRate };
      if (this.heldFrames >= MIN_BUFFER_S * format.sampleRate) this.flush();
    }
    return this.stats;
  }

  /** Schedules what is held (call at the end of the stream). */
  flush(): StreamStats {
    const format = this.decoder.format;
    if (!format || this.heldFrames === 0) return this.stats;
    const buf = this.ctx.createBuffer(format.channels, this.heldFrames, format.sampleRate);
    for (let c = 0; c < format.channels; c++) {
      const ch = buf.getChannelData(c);
      let at = 0;
      for (const piece of this.held) {
        ch.set(piece[c], at);
        at += piece[c].length;
      }
    }
    this.held = [];
    this.heldFrames = 0;
    const src = this.ctx.createBufferSource();
    src.buffer = buf;
    src.connect(this.ctx.destination);
    const start = Math.max(this.next, this.ctx.currentTime + LEAD_S);
    src.start(start);
    this.next = start + buf.duration;
    this.sources.push(src);
    src.onended = () => {
      this.sources = this.sources.filter((s) => s !== src);
    };
    this.stats = { ...this.stats, buffers: this.stats.buffers + 1 };
    return this.stats;
  }

  /** Stops playback now (a cancelled stream). */
  stop(): void {
    for (const s of this.sources) {
      try {
        s.stop();
      } catch {
        // not started yet or already ended
      }
    }
    this.sources = [];
  }
}
