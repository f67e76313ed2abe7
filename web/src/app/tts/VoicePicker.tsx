"use client";

import { useId, useState } from "react";
import type { VoiceState } from "@/hooks/useVoice";
import { formatBytes, formatSeconds, type VoiceLimits } from "@/lib/voice";

/**
 * The voice prompt: a clip dropped or chosen here (checked in the browser), the voice already in
 * the session, or the built-in one. `limits` null: not known yet, so no clip is taken.
 */
export default function VoicePicker({
  picker,
  sessionVoice,
  limits,
  onUseBuiltIn,
}: {
  picker: VoiceState;
  sessionVoice: string | null;
  limits: VoiceLimits | null;
  onUseBuiltIn: () => void;
}) {
  const ids = { voice: useId(), voiceHelp: useId() };
  const [dragging, setDragging] = useState(false);
  const { voice, checking } = picker;
  return (
    <section className="card">
      <div className="label-row">
        <span className="label" id={`${ids.voice}-label`}>
          Voice prompt <span className="optional">(optional)</span>
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
            <span>Built-in voice. Drop a clip here to clone another voice.</span>
          )}
        </div>
        <div className="drop-actions">
          <label htmlFor={ids.voice} className="button secondary" aria-disabled={limits === null || undefined}>
            {voice || sessionVoice ? "Replace…" : "Choose a file…"}
          </label>
          {(voice || sessionVoice) && (
            <button type="button" className="secondary" onClick={onUseBuiltIn}>
              Use built-in voice
            </button>
          )}
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
    </section>
  );
}
