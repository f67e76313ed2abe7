// GET /api/tts/info → backend GET /info (limits, generation parameters, model): passed through as
// the backend answers it; the page reads its limits and parameter inputs from here.
import { backendUrl, pick, unreachable } from "@/lib/backend";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export async function GET(): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(backendUrl("/info"), { cache: "no-store", redirect: "manual" });
  } catch (err) {
    return unreachable(err);
  }
  const headers = pick(res.headers, ["content-type", "x-request-id"]);
  headers.set("cache-control", "no-store");
  return new Response(await res.text(), { status: res.status, headers });
}
