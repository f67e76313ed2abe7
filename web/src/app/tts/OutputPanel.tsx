"use client";

import { useId } from "react";
import type { AudioFormat } from "@/lib/api";
import { FORMAT_LABEL, SPEED_CHOICES } from "@/lib/output";

/** Format, speed and streaming. `speedUnavailable`: why another speed cannot be used now. */
export default function OutputPanel({
  formats,
  format,
  onFormat,
  speed,
  onSpeed,
  speedUnavailable,
  stream,
  onStream,
}: {
  formats: readonly AudioFormat[];
  format: AudioFormat;
  onFormat: (f: AudioFormat) => void;
  speed: number;
  onSpeed: (s: number) => void;
  speedUnavailable: string | null;
  stream: boolean;
  onStream: (on: boolean) => void;
}) {
  const ids = { format: useId(), speed: useId(), speedHelp: useId(), stream: useId(), streamHelp: useId() };
  const otherSpeed = speed !== 1;
  return (
    <section className="card output" aria-label="Output">
      <div className="output-row">
        {formats.length > 0 && (
          <div className="param">
            <label htmlFor={ids.format}>Download format</label>
            <select id={ids.format} value={format} onChange={(e) => onFormat(e.target.value as AudioFormat)}>
              {formats.map((f) => (
                <option key={f} value={f}>
                  {FORMAT_LABEL[f]}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="param">
          <label htmlFor={ids.speed}>Speed</label>
          <select
            id={ids.speed}
            value={String(speed)}
            onChange={(e) => onSpeed(Number(e.target.value))}
            disabled={speedUnavailable !== null}
            aria-describedby={ids.speedHelp}
          >
            {SPEED_CHOICES.map((s) => (
              <option key={s} value={String(s)}>
                {s === 1 ? "1× (as spoken)" : `${s}×`}
              </option>
            ))}
          </select>
        </div>
      </div>
      <small id={ids.speedHelp} className="hint">
        {speedUnavailable ??
          (otherSpeed
            ? "Another speed is made by the stateless /tts endpoint (pitch kept): nothing is stored on the server and it cannot stream."
            : "Pitch-preserving tempo change.")}
      </small>
      <div className="check">
        <input
          id={ids.stream}
          type="checkbox"
          checked={stream && !otherSpeed}
          disabled={otherSpeed}
          onChange={(e) => onStream(e.target.checked)}
          aria-describedby={ids.streamHelp}
        />
        <label htmlFor={ids.stream}>Play while it is synthesized (stream)</label>
      </div>
      <small id={ids.streamHelp} className="hint">
        Long texts are spoken sentence by sentence; streaming starts playing after the first one.
      </small>
    </section>
  );
}
