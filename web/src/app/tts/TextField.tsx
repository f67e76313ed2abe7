"use client";

import { useId } from "react";

/** Characters as the backend counts them (Unicode scalar values). */
export function countChars(text: string): number {
  return [...text].length;
}

/** The text to speak, with a counter against the backend's limit (`maxChars` null: not known yet). */
export default function TextField({
  value,
  onChange,
  maxChars,
}: {
  value: string;
  onChange: (text: string) => void;
  maxChars: number | null;
}) {
  const ids = { text: useId(), counter: useId() };
  const chars = countChars(value);
  const excess = maxChars === null ? 0 : chars - maxChars;
  const over = excess > 0;
  return (
    <section className="card">
      <div className="label-row">
        <label htmlFor={ids.text}>Text</label>
        {/* The test id marks a counter against a known limit. */}
        <span
          id={ids.counter}
          className={over ? "counter over" : "counter"}
          data-testid={maxChars === null ? undefined : "counter"}
        >
          {chars} / {maxChars ?? "…"}
        </span>
      </div>
      <textarea
        id={ids.text}
        name="text"
        rows={6}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={ids.counter}
        aria-invalid={over}
        placeholder="Hello! This is my voice, cloned from a few seconds of audio."
        required
      />
      <p className="hint" aria-live="polite">
        {over ? `Too long by ${excess} characters.` : "\u00a0"}
      </p>
    </section>
  );
}
