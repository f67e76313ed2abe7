// POST /api/tts/delete {"session_id"} → backend POST /delete.
import { backendUrl, errorResponse, pick, unreachable } from "@/lib/backend";
import type { DeleteRequest } from "@/lib/api";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export async function POST(req: Request): Promise<Response> {
  let parsed: unknown;
  try {
    const raw = await req.text();
    if (raw.length > 4096) return errorResponse(413, "body_too_large", "the body is too large");
    parsed = JSON.parse(raw);
  } catch {
    return errorResponse(400, "invalid_json", "send {\"session_id\": \"…\"} as JSON");
  }
  const sid = (parsed as Partial<DeleteRequest> | null)?.session_id;
  if (typeof sid !== "string") {
    return errorResponse(400, "invalid_json", "session_id is required");
  }
  const body: DeleteRequest = { session_id: sid };
  let res: Response;
  try {
    res = await fetch(backendUrl("/delete"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
      redirect: "manual",
    });
  } catch (err) {
    return unreachable(err);
  }
  const headers = pick(res.headers, ["content-type", "x-request-id"]);
  headers.set("cache-control", "no-store");
  return new Response(await res.text(), { status: res.status, headers });
}
