// The inputs for the generation parameters under "Advanced", made from the backend's /info
// (label, default, range, kind, description). Only type imports here: tests/contract.test.mjs
// transpiles this file on its own.
import type { UiParam } from "./info";

/** What each parameter input holds, by parameter name ("" = not sent: the backend's default). */
export type ParamValues = Record<string, string>;

export interface ParamInput {
  name: string;
  label: string;
  min: number;
  max: number;
  /** "any" for real numbers, "1" for integers. */
  step: "any" | "1";
  inputMode: "decimal" | "numeric";
  /** The text the input starts with (the default; "" when there is none). */
  initial: string;
  placeholder: string | undefined;
  help: string;
}

/** A default as input text: "" when there is none; a float keeps its decimal point ("1.0"). */
export function defaultText(p: UiParam): string {
  if (p.default === null) return "";
  if (p.kind === "float" && Number.isInteger(p.default)) return p.default.toFixed(1);
  return String(p.default);
}

export function paramInput(p: UiParam): ParamInput {
  const initial = defaultText(p);
  const integer = p.kind === "integer";
  return {
    name: p.name,
    label: p.label,
    min: p.min,
    max: p.max,
    step: integer ? "1" : "any",
    inputMode: integer ? "numeric" : "decimal",
    initial,
    placeholder: initial === "" ? "not set" : initial,
    help: p.description,
  };
}

export function defaultValues(params: readonly UiParam[]): ParamValues {
  return Object.fromEntries(params.map((p) => [p.name, defaultText(p)]));
}

/** The accepted range in interval notation, e.g. "(0, 1]". */
export function rangeText(p: UiParam): string {
  return `${p.min_exclusive ? "(" : "["}${p.min}, ${p.max}]`;
}

/** Why `text` is not a value the backend accepts for `p` (null when it is, or when empty). */
export function paramProblem(p: UiParam, text: string): string | null {
  const t = text.trim();
  if (t === "") return null;
  const v = Number(t);
  if (!Number.isFinite(v)) return `${p.label} must be a number.`;
  if (p.kind === "integer" && !Number.isInteger(v)) return `${p.label} must be a whole number.`;
  const low = p.min_exclusive ? v <= p.min : v < p.min;
  if (low || v > p.max) return `${p.label} must be in ${rangeText(p)}.`;
  return null;
}
