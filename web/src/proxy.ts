// GET /api/tts/play/{sid} is proxied at the network layer: a rewrite to the backend's /play/{sid}
// streams the WAV with the backend's status (200/206/304/416) and every response header, including
// Content-Length, Content-Range and Accept-Ranges, and passes Range / If-Range / If-None-Match
// through. (A Route Handler cannot do this: Next.js drops Content-Length from its responses.)
// Ids that are not canonical session ids never reach the backend: they fall through to
// app/api/tts/play/[sid]/route.ts, which answers 404 in the backend's error shape.
import { NextResponse, type NextRequest } from "next/server";
import { backendUrl, isSessionId } from "@/lib/backend";

export function proxy(req: NextRequest) {
  const sid = req.nextUrl.pathname.slice("/api/tts/play/".length);
  if ((req.method === "GET" || req.method === "HEAD") && isSessionId(sid)) {
    return NextResponse.rewrite(new URL(backendUrl(`/play/${sid}`)));
  }
  return NextResponse.next();
}

export const config = { matcher: "/api/tts/play/:sid" };
