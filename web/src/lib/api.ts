// Request/response types of the backend, taken from docs/openapi.json through the generated
// api-types.ts (`npm run gen:types`, run before every build and type check), so a change to the
// contract that the UI does not follow fails `next build`.
import type { components, paths } from "./api-types";

type Schemas = components["schemas"];
type SynthesizeContent = NonNullable<paths["/synthesize"]["post"]["requestBody"]>["content"];

/** Fields of the multipart synthesis form (voice_prompt is the uploaded file). */
export type SynthesizeForm = SynthesizeContent["multipart/form-data"];
export type SynthesizeJson = SynthesizeContent["application/json"];
export type SynthesizeResponse = Schemas["SynthesizeResponse"];
export type DeleteRequest = Schemas["DeleteRequest"];
export type DeleteResponse =
  paths["/delete"]["post"]["responses"][200]["content"]["application/json"];
export type ApiError = Schemas["ErrorResponse"];
export type Health = Schemas["Health"];

/** GET /info: what the backend runs and accepts (the UI's limits and parameter inputs). */
export type Info = Schemas["Info"];
export type ModelInfo = Schemas["ModelInfo"];
export type Limits = Schemas["Limits"];
export type ParamSpec = Schemas["ParamSpec"];
export type ParamKind = Schemas["ParamKind"];

/** The voice library (GET /voices) and one voice in it. */
export type VoiceList = Schemas["VoiceList"];
export type VoiceInfo = Schemas["VoiceInfo"];
export type VoiceDeleted = Schemas["VoiceDeleted"];
/** Fields of POST /voices (audio is the clip file). */
export type CreateVoiceForm = Schemas["CreateVoiceForm"];
/** GET /sessions/{sid}: the session's metadata and the progress of its synthesis. */
export type SessionMeta = Schemas["SessionMeta"];
export type AudioFormat = Schemas["AudioFormat"];
/** POST /tts (stateless; takes a speed as `rate`). */
export type TtsRequest = Schemas["TtsRequest"];

/** Fields of POST /vc (audio and voice_prompt are files). */
export type ConvertForm = Schemas["ConvertForm"];

export function isApiError(v: unknown): v is ApiError {
  if (typeof v !== "object" || v === null || !("error" in v)) return false;
  const e = (v as { error: unknown }).error;
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as { code?: unknown }).code === "string" &&
    typeof (e as { message?: unknown }).message === "string"
  );
}
