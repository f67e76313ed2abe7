"use client";

import { useId } from "react";
import type { UiLanguage } from "@/lib/info";

/** The text's language, from the languages /info lists (shown only when there are several). */
export default function LanguagePicker({
  languages,
  value,
  onChange,
}: {
  languages: readonly UiLanguage[];
  value: string;
  onChange: (code: string) => void;
}) {
  const id = useId();
  return (
    <section className="card">
      <div className="param">
        <label htmlFor={id}>Language</label>
        <select id={id} name="language" value={value} onChange={(e) => onChange(e.target.value)}>
          {languages.map((l) => (
            <option key={l.code} value={l.code}>
              {l.name} ({l.code})
            </option>
          ))}
        </select>
      </div>
    </section>
  );
}
