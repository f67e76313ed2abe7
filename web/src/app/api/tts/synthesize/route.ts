// POST /api/tts/synthesize → backend POST /synthesize. The multipart (or JSON) body is streamed
// through unchanged; the response's play_url is rewritten to this app's /api/tts/play/{sid}.
import { backendInfo, backendUrl, errorResponse, pick, unreachable } from "@/lib/backend";
import type { SynthesizeResponse } from "@/lib/api";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** Room for the text fields around the voice file in a multipart body. */
const FORM_OVERHEAD = 256 * 1024;

export async function POST(req: Request): Promise<Response> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^(multipart\/form-data|application\/json)/i.test(type)) {
    return errorResponse(415, "unsupported_media_type", "send multipart/form-data or application/json");
  }
  // The backend refuses oversize uploads while reading them, which can cut the connection before
  // its answer arrives; refuse declared oversize bodies here with the same error instead. The
  // limit is the backend's own (its /info, cached briefly); when that is unavailable the body goes
  // through and the backend enforces its limit itself.
  const declared = Number(req.headers.get("content-length") ?? "0");
  const max = declared > FORM_OVERHEAD ? (await backendInfo())?.limits.max_upload_bytes : undefined;
  if (max !== undefined && declared > max + FORM_OVERHEAD) {
    return errorResponse(413, "upload_too_large", `voice_prompt exceeds ${max} bytes`);
  }
  let res: Response;
  try {
    res = await fetch(backendUrl("/synthesize"), {
      method: "POST",
      headers: pick(req.headers, ["content-type", "accept", "x-request-id"]),
      body: req.body,
      // Required by undici for a streamed request body.
      duplex: "half",
      cache: "no-store",
      redirect: "manual",
      signal: req.signal,
    } as RequestInit & { duplex: "half" });
  } catch (err) {
    if (req.signal.aborted) return errorResponse(499, "cancelled", "the request was cancelled");
    return unreachable(err);
  }
  const headers = pick(res.headers, ["content-type", "retry-after", "x-request-id"]);
  headers.set("cache-control", "no-store");
  const text = await res.text();
  if (!res.ok) {
    return new Response(text, { status: res.status, headers });
  }
  try {
    const body = JSON.parse(text) as SynthesizeResponse;
    body.play_url = `/api/tts/play/${encodeURIComponent(body.session_id)}`;
    return Response.json(body, { status: res.status, headers });
  } catch {
    return errorResponse(502, "bad_gateway", "the speech server sent an unreadable answer");
  }
}
