// GET /api/tts/voices → backend GET /voices (the voice library); POST /api/tts/voices (multipart
// `name` + file `audio`) → backend POST /voices, the upload streamed through.
import { errorResponse, forwardBody, forwardPlain, passThrough, refuseOversize } from "@/lib/backend";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export function GET(): Promise<Response> {
  return forwardPlain("GET", "/voices");
}

export async function POST(req: Request): Promise<Response> {
  if (!/^multipart\/form-data/i.test(req.headers.get("content-type") ?? "")) {
    return errorResponse(415, "unsupported_media_type", "send multipart/form-data with name and audio");
  }
  const refused = await refuseOversize(req, "audio");
  if (refused) return refused;
  const res = await forwardBody(req, "/voices");
  return "failed" in res ? res.failed : passThrough(res);
}
