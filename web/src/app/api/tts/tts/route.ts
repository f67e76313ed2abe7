// POST /api/tts/tts (JSON: text, voice, rate, format, generation parameters) → backend POST /tts:
// stateless audio bytes, passed through as they come. The UI uses it for a speed other than 1,
// which POST /synthesize does not take.
import { errorResponse, forwardBody, passThrough } from "@/lib/backend";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export async function POST(req: Request): Promise<Response> {
  if (!/^application\/json/i.test(req.headers.get("content-type") ?? "")) {
    return errorResponse(415, "unsupported_media_type", "send application/json");
  }
  const res = await forwardBody(req, "/tts");
  return "failed" in res ? res.failed : passThrough(res);
}
