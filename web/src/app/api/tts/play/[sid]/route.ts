// Valid session ids are proxied to the backend by src/proxy.ts before they get here (with
// Content-Length, Content-Range and Accept-Ranges intact); what reaches this handler is not a
// session id, so it gets the backend's own 404.
import { errorResponse } from "@/lib/backend";

export const dynamic = "force-dynamic";

export function GET(): Response {
  return errorResponse(404, "session_not_found", "no such session");
}
