"use client";

import { useId, useState } from "react";
import type { VoiceState } from "@/hooks/useVoice";
import { formatBytes, formatSeconds, type VoiceLimits } from "@/lib/voice";

/** The choice of the voice select meaning "a clip of my own" (voice names cannot contain ":"). */
export const CLIP = ":clip";

/**
 * The voice: the built-in one or a saved one from the library (by name), or a clip of one's own
 * dropped or chosen here (checked in the browser) and kept in the session. `limits` null: not
 * known yet, so no clip is taken.
 */
export default function VoicePicker({
  picker,
  sessionVoice,
  limits,
  choice,
  onChoice,
  names,
}: {
  picker: VoiceState;
  sessionVoice: string | null;
  limits: VoiceLimits | null;
  /** A voice name (`default`, a saved one) or CLIP. */
  choice: string;
  onChoice: (choice: string) => void;
  /** The library's voice names, `default` first. */
  names: readonly string[];
}) {
  const ids = { voice: useId(), voiceHelp: useId(), select: useId() };
  const [dragging, setDragging] = useState(false);
  const { voice, checking } = picker;
  const options = names.includes(choice) || choice === CLIP ? names : [...names, choice];
  return (
    <section className="card">
      <div className="label-row">
        <label htmlFor={ids.select}>Voice</label>
      </div>
      <select id={ids.select} name="voice" value={choice} onChange={(e) => onChoice(e.target.value)}>
        {options.map((n) => (
          <option key={n} value={n}>
            {n === "default" ? "Built-in voice (default)" : n}
          </option>
        ))}
        <option value={CLIP}>A clip of my own…</option>
      </select>
      {choice === CLIP && (
        <>
      <div className="label-row clip-label">
        <span className="label" id={`${ids.voice}-label`}>
          Voice prompt
        </span>
      </div>
      <div
        className={dragging ? "drop dragging" : "drop"}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          void picker.take(e.dataTransfer.files[0]);
        }}
      >
        <input
          ref={picker.inputRef}
          id={ids.voice}
          className="visually-hidden"
          type="file"
          name="voice_prompt"
          accept="audio/*,.wav,.mp3,.ogg,.oga,.flac"
          aria-describedby={ids.voiceHelp}
          disabled={limits === null}
          onChange={(e) => void picker.take(e.target.files?.[0])}
        />
        <div className="drop-body" data-testid="voice-status">
          {checking ? (
            <span>Checking the clip…</span>
          ) : voice ? (
            <span>
              <strong>{voice.file.name}</strong> · {formatBytes(voice.file.size)}
              {voice.durationS !== null ? ` · ${formatSeconds(voice.durationS)}` : ""}
              {voice.inSession ? " · kept for this session" : ""}
            </span>
          ) : sessionVoice ? (
            <span>
              Using <strong>{sessionVoice}</strong> from this session
            </span>
          ) : (
            <span>Drop a clip here to clone its voice.</span>
          )}
        </div>
        <div className="drop-actions">
          <label htmlFor={ids.voice} className="button secondary" aria-disabled={limits === null || undefined}>
            {voice || sessionVoice ? "Replace…" : "Choose a file…"}
          </label>
        </div>
      </div>
      <p id={ids.voiceHelp} className="hint">
        {limits ? (
          <>
            wav, mp3, ogg or flac; {limits.min_voice_seconds}–{limits.max_voice_seconds} s (the first 10 s are
            used); up to {formatBytes(limits.max_upload_bytes)}.
          </>
        ) : (
          "wav, mp3, ogg or flac."
        )}
      </p>
      <p className="problem" role="alert" data-testid="voice-problem">
        {picker.problem ?? ""}
      </p>
        </>
      )}
    </section>
  );
}
