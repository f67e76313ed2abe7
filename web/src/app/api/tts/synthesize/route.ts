// POST /api/tts/synthesize → backend POST /synthesize. The multipart (or JSON) body is streamed
// through unchanged. A JSON answer has its play_url rewritten to this app's /api/tts/play/{sid}; a
// streamed one (`stream: true`: chunked audio/wav, the session in x-session-id) is passed through
// as it arrives, unbuffered, and a browser that goes away cancels the backend's work.
import { errorResponse, forwardBody, passThrough, pick, refuseOversize } from "@/lib/backend";
import type { SynthesizeResponse } from "@/lib/api";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export async function POST(req: Request): Promise<Response> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^(multipart\/form-data|application\/json)/i.test(type)) {
    return errorResponse(415, "unsupported_media_type", "send multipart/form-data or application/json");
  }
  const refused = await refuseOversize(req, "voice_prompt");
  if (refused) return refused;
  const res = await forwardBody(req, "/synthesize");
  if ("failed" in res) return res.failed;
  if (res.ok && (res.headers.get("content-type") ?? "").startsWith("audio/")) return passThrough(res);

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
