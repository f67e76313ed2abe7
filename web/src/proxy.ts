// GET /api/tts/play/{sid} is proxied at the network layer: a rewrite to the backend's /play/{sid}
// streams the WAV with the backend's status (200/206/304/416) and every response header, including
// Content-Length, Content-Range and Accept-Ranges, and passes Range / If-Range / If-None-Match
// through; the query's `format` (wav, mp3, opus, flac, pcm: the backend transcodes) goes with it.
// (A Route Handler cannot do this: Next.js drops Content-Length from its responses.)
// Ids that are not canonical session ids never reach the backend: they fall through to
// app/api/tts/play/[sid]/route.ts, which answers 404 in the backend's error shape.
import { NextResponse, type NextRequest } from "next/server";
import { backendUrl, isSessionId } from "@/lib/backend";

export function proxy(req: NextRequest) {
  const sid = req.nextUrl.pathname.slice("/api/tts/play/".length);
  if ((req.method === "GET" || req.method === "HEAD") && isSessionId(sid)) {
    const to = new URL(backendUrl(`/play/${sid}`));
    const format = req.nextUrl.searchParams.get("format");
    if (format !== null) to.searchParams.set("format", format);
    return NextResponse.rewrite(to);
  }
  return NextResponse.next();
}

export const config = { matcher: "/api/tts/play/:sid" };
