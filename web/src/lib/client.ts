// The browser's client for this app's /api/tts/* routes (which proxy to the backend). Failures come
// back as the backend's error shape: its own {code, message}, or one made here for an unreadable
// answer ("http_<status>"), an unreachable web server ("network") or a cancelled request
// ("cancelled").
import {
  isApiError,
  type ApiError,
  type AudioFormat,
  type ConvertForm,
  type CreateVoiceForm,
  type DeleteRequest,
  type SessionMeta,
  type SynthesizeForm,
  type SynthesizeResponse,
  type VoiceDeleted,
  type VoiceInfo,
  type VoiceList,
} from "./api";
import { parseInfo, type UiInfo } from "./info";

export type Problem = ApiError["error"];
export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: Problem };

/** The backend's error from a failed response, or one describing the status. */
export async function readProblem(res: Response): Promise<Problem> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON
  }
  if (isApiError(body)) return body.error;
  return { code: `http_${res.status}`, message: `The server answered ${res.status} ${res.statusText}.` };
}

function cause(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** fetch, with a failure to answer (or a cancellation) as a Problem. */
async function send(url: string, init: RequestInit, failed: string): Promise<Outcome<Response>> {
  try {
    return { ok: true, value: await fetch(url, init) };
  } catch (err) {
    if (init.signal?.aborted) return { ok: false, problem: { code: "cancelled", message: "Cancelled." } };
    return { ok: false, problem: { code: "network", message: `${failed}: ${cause(err)}` } };
  }
}

/** GET /api/tts/info: the backend's limits and generation parameters. */
export async function fetchInfo(signal?: AbortSignal): Promise<Outcome<UiInfo>> {
  const sent = await send("/api/tts/info", { cache: "no-store", signal }, "Could not reach the web server");
  if (!sent.ok) return sent;
  const res = sent.value;
  if (!res.ok) return { ok: false, problem: await readProblem(res) };
  try {
    return { ok: true, value: parseInfo(await res.json()) };
  } catch (err) {
    return { ok: false, problem: { code: "bad_info", message: `The speech server's /info answer is unusable: ${cause(err)}.` } };
  }
}

export interface SynthesisRequest {
  text: string;
  /** The session to reuse (its voice included), if any. */
  sessionId: string | null;
  /** A clip to upload as the voice (it then stays in the session). */
  voicePrompt: File | null;
  /** A named voice to use (`default` or a saved one); null: the session's (or the built-in) voice. */
  voice: string | null;
  /** Ask for chunked audio/wav as it is produced instead of JSON. */
  stream?: boolean;
  /** The text's language (ISO 639-1); null: the server's default. */
  language?: string | null;
  /** Generation parameters by name; empty ones are left out (the backend's defaults apply). */
  params: Readonly<Record<string, string>>;
}

/** The multipart body of a synthesis request. */
export function synthesisForm(r: SynthesisRequest): FormData {
  const form = new FormData();
  const field = (k: Exclude<keyof SynthesizeForm, "voice_prompt">, v: string) => form.append(k, v);
  field("text", r.text);
  if (r.sessionId) field("session_id", r.sessionId);
  if (r.voicePrompt) form.append("voice_prompt" satisfies keyof SynthesizeForm, r.voicePrompt, r.voicePrompt.name);
  else if (r.voice) field("voice", r.voice);
  if (r.stream) field("stream", "true");
  if (r.language) field("language", r.language);
  for (const [name, value] of Object.entries(r.params)) {
    const v = value.trim();
    if (v !== "") form.append(name, v);
  }
  return form;
}

/** POST /api/tts/synthesize (multipart). */
export async function synthesize(r: SynthesisRequest, signal: AbortSignal): Promise<Outcome<SynthesizeResponse>> {
  const form = synthesisForm(r);
  const sent = await send(
    "/api/tts/synthesize",
    { method: "POST", body: form, signal },
    "Could not reach the web server",
  );
  if (!sent.ok) return sent;
  const res = sent.value;
  if (!res.ok) return { ok: false, problem: await readProblem(res) };
  try {
    return { ok: true, value: (await res.json()) as SynthesizeResponse };
  } catch (err) {
    if (signal.aborted) return { ok: false, problem: { code: "cancelled", message: "Cancelled." } };
    return { ok: false, problem: { code: "network", message: `Could not read the answer: ${cause(err)}` } };
  }
}

/** POST /api/tts/delete: removes the session's audio and metadata (an unknown session counts as gone). */
export async function deleteSession(sessionId: string): Promise<Outcome<null>> {
  const sent = await send(
    "/api/tts/delete",
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session_id: sessionId } satisfies DeleteRequest),
    },
    "Could not delete",
  );
  if (!sent.ok) return sent;
  const res = sent.value;
  if (!res.ok) {
    const problem = await readProblem(res);
    if (problem.code !== "session_not_found") return { ok: false, problem };
  }
  return { ok: true, value: null };
}

/** The answer's JSON body as T, or its problem. */
async function readJson<T>(res: Response): Promise<Outcome<T>> {
  if (!res.ok) return { ok: false, problem: await readProblem(res) };
  try {
    return { ok: true, value: (await res.json()) as T };
  } catch (err) {
    return { ok: false, problem: { code: "network", message: `Could not read the answer: ${cause(err)}` } };
  }
}

/** The answer's audio, or its problem. */
async function readAudio(res: Response, signal: AbortSignal): Promise<Outcome<Blob>> {
  if (!res.ok) return { ok: false, problem: await readProblem(res) };
  try {
    return { ok: true, value: await res.blob() };
  } catch (err) {
    if (signal.aborted) return { ok: false, problem: { code: "cancelled", message: "Cancelled." } };
    return { ok: false, problem: { code: "network", message: `Could not read the audio: ${cause(err)}` } };
  }
}

/** GET /api/tts/voices: the voice library, `default` first. */
export async function listVoices(signal?: AbortSignal): Promise<Outcome<VoiceInfo[]>> {
  const sent = await send("/api/tts/voices", { cache: "no-store", signal }, "Could not load the voices");
  if (!sent.ok) return sent;
  const out = await readJson<VoiceList>(sent.value);
  return out.ok ? { ok: true, value: out.value.voices } : out;
}

/** POST /api/tts/voices: save `file` in the library as `name`. */
export async function saveVoice(name: string, file: File): Promise<Outcome<VoiceInfo>> {
  const form = new FormData();
  form.append("name" satisfies keyof CreateVoiceForm, name);
  form.append("audio" satisfies keyof CreateVoiceForm, file, file.name);
  const sent = await send("/api/tts/voices", { method: "POST", body: form }, "Could not save the voice");
  return sent.ok ? readJson<VoiceInfo>(sent.value) : sent;
}

/** DELETE /api/tts/voices/{name}. */
export async function deleteVoice(name: string): Promise<Outcome<VoiceDeleted>> {
  const sent = await send(
    `/api/tts/voices/${encodeURIComponent(name)}`,
    { method: "DELETE" },
    "Could not delete the voice",
  );
  return sent.ok ? readJson<VoiceDeleted>(sent.value) : sent;
}

/** GET /api/tts/sessions/{sid}: the session's metadata and its synthesis's progress. */
export async function sessionMeta(sessionId: string, signal?: AbortSignal): Promise<Outcome<SessionMeta>> {
  const sent = await send(
    `/api/tts/sessions/${encodeURIComponent(sessionId)}`,
    { cache: "no-store", signal },
    "Could not read the session",
  );
  return sent.ok ? readJson<SessionMeta>(sent.value) : sent;
}

/**
 * POST /api/tts/synthesize with `stream`: once the answer starts, `onStart` gets its session id;
 * then `onBytes` gets the body (a WAV header, then 16-bit PCM) piece by piece as it arrives.
 * Resolves when the stream ends (ok: the whole audio arrived).
 */
export async function synthesizeStream(
  r: SynthesisRequest,
  signal: AbortSignal,
  onStart: (sessionId: string) => void,
  onBytes: (bytes: Uint8Array) => void,
): Promise<Outcome<{ sessionId: string }>> {
  const sent = await send(
    "/api/tts/synthesize",
    { method: "POST", body: synthesisForm({ ...r, stream: true }), signal },
    "Could not reach the web server",
  );
  if (!sent.ok) return sent;
  const res = sent.value;
  if (!res.ok) return { ok: false, problem: await readProblem(res) };
  const sessionId = res.headers.get("x-session-id");
  if (!sessionId || !res.body) {
    return { ok: false, problem: { code: "bad_stream", message: "The server's stream has no session id or no body." } };
  }
  onStart(sessionId);
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.byteLength > 0) onBytes(value);
    }
  } catch (err) {
    if (signal.aborted) return { ok: false, problem: { code: "cancelled", message: "Cancelled." } };
    return { ok: false, problem: { code: "stream_broken", message: `The audio stream broke off: ${cause(err)}` } };
  }
  return { ok: true, value: { sessionId } };
}

/** The body of POST /api/tts/tts: the text, a named voice, the tempo and the generation parameters. */
export interface SpeakRequest {
  text: string;
  voice: string;
  speed: number;
  format: AudioFormat;
  language?: string | null;
  params: Readonly<Record<string, string>>;
}

/** POST /api/tts/tts (stateless, nothing stored): the audio in the asked format. */
export async function speak(r: SpeakRequest, signal: AbortSignal): Promise<Outcome<Blob>> {
  const head: Record<string, unknown> = { text: r.text, voice: r.voice, rate: r.speed, format: r.format };
  if (r.language) head.language = r.language;
  const fields = [JSON.stringify(head).slice(1, -1)];
  for (const [name, value] of Object.entries(r.params)) {
    const v = value.trim();
    if (v === "") continue;
    // Whole numbers go as written (a u64 seed would lose digits as a JS number).
    const n = /^\d+$/.test(v) ? v : JSON.stringify(Number(v));
    fields.push(`${JSON.stringify(name)}:${n}`);
  }
  const sent = await send(
    "/api/tts/tts",
    { method: "POST", headers: { "content-type": "application/json" }, body: `{${fields.join(",")}}`, signal },
    "Could not reach the web server",
  );
  return sent.ok ? readAudio(sent.value, signal) : sent;
}

/** POST /api/tts/vc: `audio` spoken again in the target voice (a saved one by name, or a clip). */
export interface ConvertRequest {
  audio: File;
  target: { voice: string } | { voicePrompt: File };
  format: AudioFormat;
}

export async function convert(r: ConvertRequest, signal: AbortSignal): Promise<Outcome<Blob>> {
  const form = new FormData();
  const key = (k: keyof ConvertForm) => k;
  form.append(key("audio"), r.audio, r.audio.name);
  if ("voice" in r.target) form.append(key("voice"), r.target.voice);
  else form.append(key("voice_prompt"), r.target.voicePrompt, r.target.voicePrompt.name);
  form.append(key("format"), r.format);
  const sent = await send("/api/tts/vc", { method: "POST", body: form, signal }, "Could not reach the web server");
  return sent.ok ? readAudio(sent.value, signal) : sent;
}
