// The sampling parameters shown under "Advanced". params.json is shared with the contract test
// (tests/contract.test.mjs), which checks keys, defaults and bounds against docs/openapi.json.
import raw from "./params.json";
import type { SamplingKey } from "./api";

export interface ParamSpec {
  key: SamplingKey;
  label: string;
  min: number;
  max: number | null;
  /** "any" for real numbers, "1" for integers. */
  step: string;
  /** Default as the text the input starts with; "" = not sent. */
  default: string;
  help: string;
}

const KEYS = [
  "exaggeration",
  "cfg_weight",
  "temperature",
  "repetition_penalty",
  "min_p",
  "top_p",
  "top_k",
  "seed",
  "max_new_tokens",
] as const satisfies readonly SamplingKey[];

// Every sampling field of the contract must be listed: this line fails to compile otherwise.
type Missing = Exclude<SamplingKey, (typeof KEYS)[number]>;
const complete: Missing extends never ? true : never = true;
void complete;

export const PARAMS: readonly ParamSpec[] = raw.map((p) => {
  const key = KEYS.find((k) => k === p.key);
  if (!key) throw new Error(`params.json: unknown parameter ${p.key}`);
  return { ...p, key };
});

export type ParamValues = Record<SamplingKey, string>;

export function defaultParams(): ParamValues {
  return Object.fromEntries(PARAMS.map((p) => [p.key, p.default])) as ParamValues;
}
