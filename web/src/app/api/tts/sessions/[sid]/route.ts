// GET /api/tts/sessions/{sid} → backend GET /sessions/{sid}: the session's metadata, with the
// progress (chunks_done / chunks_total) of its running synthesis; polled while a stream plays.
import { errorResponse, forwardPlain, isSessionId } from "@/lib/backend";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export async function GET(_req: Request, { params }: { params: Promise<{ sid: string }> }): Promise<Response> {
  const { sid } = await params;
  if (!isSessionId(sid)) return errorResponse(404, "session_not_found", "no such session");
  return forwardPlain("GET", `/sessions/${sid}`);
}
