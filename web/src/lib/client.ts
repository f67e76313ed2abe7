// The browser's client for this app's /api/tts/* routes (which proxy to the backend). Failures come
// back as the backend's error shape: its own {code, message}, or one made here for an unreadable
// answer ("http_<status>"), an unreachable web server ("network") or a cancelled request
// ("cancelled").
import { isApiError, type ApiError, type DeleteRequest, type SynthesizeForm, type SynthesizeResponse } from "./api";
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
  /** Ask for the built-in voice explicitly. */
  builtInVoice: boolean;
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
  else if (r.builtInVoice) field("voice", "default");
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
