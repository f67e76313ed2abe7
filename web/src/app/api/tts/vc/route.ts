// POST /api/tts/vc (multipart: file `audio` to convert; target `voice` name or file
// `voice_prompt`; optional `format`) → backend POST /vc: the converted audio, passed through.
import { errorResponse, forwardBody, passThrough, refuseOversize } from "@/lib/backend";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export async function POST(req: Request): Promise<Response> {
  if (!/^multipart\/form-data/i.test(req.headers.get("content-type") ?? "")) {
    return errorResponse(415, "unsupported_media_type", "send multipart/form-data with audio and voice or voice_prompt");
  }
  const refused = await refuseOversize(req, "audio", 2);
  if (refused) return refused;
  const res = await forwardBody(req, "/vc");
  return "failed" in res ? res.failed : passThrough(res);
}
