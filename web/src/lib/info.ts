// The part of the backend's GET /info the UI relies on (limits, generation parameters), checked at
// run time: a missing or mistyped field is an error shown to the user, never a guessed value.
// Only type imports here: tests/contract.test.mjs transpiles this file on its own and runs
// parseInfo against the Info schema of docs/openapi.json.
import type { AudioFormat, Limits, ParamKind, ParamSpec } from "./api";

/** The limits the page checks before sending anything. */
export const LIMIT_KEYS = [
  "max_text_chars",
  "max_upload_bytes",
  "min_voice_seconds",
  "max_voice_seconds",
] as const satisfies readonly (keyof Limits)[];
export type UiLimits = Pick<Limits, (typeof LIMIT_KEYS)[number]>;

/** The parameter kinds the form has inputs for. */
export const PARAM_KINDS = ["float", "integer"] as const satisfies readonly ParamKind[];
// Every kind of the contract has an input: this line fails to compile otherwise.
const allKinds: Exclude<ParamKind, (typeof PARAM_KINDS)[number]> extends never ? true : never = true;
void allKinds;

/** One generation parameter; `default` null: none (the field starts empty and is not sent). */
export type UiParam = Omit<ParamSpec, "default"> & { default: number | null };

export interface UiInfo {
  limits: UiLimits;
  /** In display order. */
  parameters: UiParam[];
  /** Samples per second of the audio the model makes. */
  sampleRate: number;
  /** Languages the model speaks (ISO 639-1 code and name); a picker is shown for more than one. */
  languages: UiLanguage[];
  /** Encodings the server produces (none listed: only the stored file is offered). */
  formats: AudioFormat[];
}

export interface UiLanguage {
  code: string;
  name: string;
}

/** Every encoding of the contract; a format /info lists that is not here is an error. */
export const AUDIO_FORMATS = ["wav", "mp3", "opus", "flac", "pcm"] as const satisfies readonly AudioFormat[];
const allFormats: Exclude<AudioFormat, (typeof AUDIO_FORMATS)[number]> extends never ? true : never = true;
void allFormats;

type Obj = Record<string, unknown>;

function object(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${what} is missing or not an object`);
  return v as Obj;
}

function number(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${what} is missing or not a number`);
  return v;
}

function string(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Error(`${what} is missing or not a string`);
  return v;
}

function param(raw: unknown, i: number): UiParam {
  const at = `parameters[${i}]`;
  const p = object(raw, at);
  const name = string(p.name, `${at}.name`);
  const q = `parameter ${name}`;
  const kind = PARAM_KINDS.find((k) => k === p.kind);
  if (!kind) throw new Error(`${q}: unknown kind ${JSON.stringify(p.kind)}`);
  if (typeof p.min_exclusive !== "boolean") throw new Error(`${q}: min_exclusive is missing or not a boolean`);
  return {
    name,
    label: string(p.label, `${q}: label`),
    kind,
    default: p.default === null || p.default === undefined ? null : number(p.default, `${q}: default`),
    min: number(p.min, `${q}: min`),
    max: number(p.max, `${q}: max`),
    min_exclusive: p.min_exclusive,
    description: string(p.description, `${q}: description`),
  };
}

/** The UI's view of a GET /info answer; throws an Error saying what is wrong with it. */
export function parseInfo(raw: unknown): UiInfo {
  const root = object(raw, "the answer");
  const l = object(root.limits, "limits");
  const limits = Object.fromEntries(LIMIT_KEYS.map((k) => [k, number(l[k], `limits.${k}`)])) as UiLimits;
  const list = root.parameters;
  if (!Array.isArray(list)) throw new Error("parameters is missing or not a list");
  const formats = root.formats;
  if (!Array.isArray(formats)) throw new Error("formats is missing or not a list");
  const model = object(root.model, "model");
  const langs = root.languages ?? [];
  if (!Array.isArray(langs)) throw new Error("languages is not a list");
  return {
    limits,
    parameters: list.map(param),
    sampleRate: number(model.sample_rate, "model.sample_rate"),
    languages: langs.map((raw, i) => {
      const l = object(raw, `languages[${i}]`);
      return { code: string(l.code, `languages[${i}].code`), name: string(l.name, `languages[${i}].name`) };
    }),
    formats: formats.map((f, i) => {
      const known = AUDIO_FORMATS.find((k) => k === f);
      if (!known) throw new Error(`formats[${i}]: unknown format ${JSON.stringify(f)}`);
      return known;
    }),
  };
}
