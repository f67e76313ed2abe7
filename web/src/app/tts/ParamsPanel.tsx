"use client";

import { useEffect, useRef } from "react";
import type { UiParam } from "@/lib/info";
import { paramInput, paramProblem, type ParamValues } from "@/lib/params";

function ParamField({
  param,
  value,
  onChange,
}: {
  param: UiParam;
  value: string;
  onChange: (value: string) => void;
}) {
  const input = paramInput(param);
  const ref = useRef<HTMLInputElement>(null);
  const id = `param-${input.name}`;
  // Ranges the input's own attributes cannot say (an exclusive minimum) block the form too.
  const problem = paramProblem(param, value);
  useEffect(() => {
    ref.current?.setCustomValidity(problem ?? "");
  }, [problem]);
  return (
    <div className="param">
      <label htmlFor={id}>{input.label}</label>
      <input
        ref={ref}
        id={id}
        name={input.name}
        type="number"
        inputMode={input.inputMode}
        min={input.min}
        max={input.max}
        step={input.step}
        value={value}
        placeholder={input.placeholder}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={`${id}-help`}
        aria-invalid={problem !== null || undefined}
      />
      <small id={`${id}-help`}>{input.help}</small>
    </div>
  );
}

/**
 * The generation parameters under "Advanced", as the backend's /info lists them (`params` null:
 * not loaded; `unavailable` says why).
 */
export default function ParamsPanel({
  params,
  values,
  onChange,
  onReset,
  unavailable,
}: {
  params: readonly UiParam[] | null;
  values: ParamValues;
  onChange: (name: string, value: string) => void;
  onReset: () => void;
  unavailable: string;
}) {
  return (
    <details className="card advanced">
      <summary>Advanced</summary>
      {params ? (
        <>
          <div className="params">
            {params.map((p) => (
              <ParamField key={p.name} param={p} value={values[p.name] ?? ""} onChange={(v) => onChange(p.name, v)} />
            ))}
          </div>
          <button type="button" className="secondary" onClick={onReset}>
            Reset to defaults
          </button>
        </>
      ) : (
        <p className="placeholder">{unavailable}</p>
      )}
    </details>
  );
}
