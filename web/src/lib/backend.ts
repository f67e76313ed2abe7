// Server-side helpers for the proxy routes (`server-only`: importing this from a client component
// fails the build).
import "server-only";
import type { ApiError } from "./api";
import { parseInfo, type UiInfo } from "./info";

/** Backend origin: TTS_API_BASE, then NEXT_PUBLIC_TTS_API_BASE, then the default port on loopback. */
export function backendBase(): string {
  const raw =
    process.env.TTS_API_BASE?.trim() ||
    process.env.NEXT_PUBLIC_TTS_API_BASE?.trim() ||
    "http://127.0.0.1:7860";
  return raw.replace(/\/+$/, "");
}

export function backendUrl(path: string): string {
  return `${backendBase()}${path}`;
}

/** A JSON error in the backend's shape, for failures that happen in the proxy itself. */
export function errorResponse(status: number, code: string, message: string): Response {
  const body: ApiError = { error: { code, message } };
  return Response.json(body, { status, headers: { "cache-control": "no-store" } });
}

export function unreachable(err: unknown): Response {
  const cause = err instanceof Error ? err.message : String(err);
  console.error(`backend ${backendBase()} unreachable: ${cause}`);
  return errorResponse(502, "backend_unavailable", "The speech server is not reachable. Try again in a moment.");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isSessionId(s: string): boolean {
  return UUID.test(s);
}

/** Copy the named headers from one header set to a new one (those present only). */
export function pick(from: Headers, names: readonly string[]): Headers {
  const out = new Headers();
  for (const n of names) {
    const v = from.get(n);
    if (v !== null) out.set(n, v);
  }
  return out;
}

/** Headers of a backend answer worth passing to the browser. */
const PASSED = ["content-type", "content-disposition", "retry-after", "x-request-id", "x-session-id", "location"] as const;

/**
 * The backend's answer as it is, its body streamed through unbuffered (audio as it is produced,
 * errors in the backend's JSON shape), with the headers the browser needs and `no-store`.
 */
export function passThrough(res: Response): Response {
  const headers = pick(res.headers, PASSED);
  headers.set("cache-control", "no-store");
  // Nothing between the backend and the browser may hold a streamed body back.
  headers.set("x-accel-buffering", "no");
  return new Response(res.body, { status: res.status, headers });
}

/** Room for the text fields around the file in a multipart body. */
const FORM_OVERHEAD = 256 * 1024;

/**
 * The backend refuses oversize uploads while reading them, which can cut the connection before
 * its answer arrives; a declared oversize body is refused here with the same error instead. The
 * limit is the backend's own (its /info, cached briefly); when that is unavailable the body goes
 * through and the backend enforces its limit itself. `field`: the file field named in the message;
 * `files`: how many files the form may carry (each up to the limit).
 */
export async function refuseOversize(req: Request, field: string, files = 1): Promise<Response | null> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  const max = declared > FORM_OVERHEAD ? (await backendInfo())?.limits.max_upload_bytes : undefined;
  if (max !== undefined && declared > files * max + FORM_OVERHEAD) {
    return errorResponse(413, "upload_too_large", `${field} exceeds ${max} bytes`);
  }
  return null;
}

/**
 * Send the browser's request body (multipart or JSON, streamed as it arrives) to the backend's
 * `path`; a cancelled browser request cancels the backend's (which stops its work).
 */
export async function forwardBody(req: Request, path: string): Promise<Response | { failed: Response }> {
  try {
    return await fetch(backendUrl(path), {
      method: req.method,
      headers: pick(req.headers, ["content-type", "accept", "x-request-id"]),
      body: req.body,
      // Required by undici for a streamed request body.
      duplex: "half",
      cache: "no-store",
      redirect: "manual",
      signal: req.signal,
    } as RequestInit & { duplex: "half" });
  } catch (err) {
    if (req.signal.aborted) return { failed: errorResponse(499, "cancelled", "the request was cancelled") };
    return { failed: unreachable(err) };
  }
}

/** A bodiless request to the backend (GET, DELETE), its answer passed through. */
export async function forwardPlain(method: "GET" | "DELETE", path: string): Promise<Response> {
  try {
    return passThrough(await fetch(backendUrl(path), { method, cache: "no-store", redirect: "manual" }));
  } catch (err) {
    return unreachable(err);
  }
}

/** How long the proxy reuses the backend's /info before asking again. */
const INFO_TTL_MS = 30_000;
let info: { value: UiInfo; until: number } | null = null;
let infoLoading: Promise<UiInfo | null> | null = null;

async function loadInfo(): Promise<UiInfo | null> {
  try {
    const res = await fetch(backendUrl("/info"), { cache: "no-store", redirect: "manual" });
    if (!res.ok) throw new Error(`GET /info answered ${res.status}`);
    const value = parseInfo(await res.json());
    info = { value, until: Date.now() + INFO_TTL_MS };
    return value;
  } catch (err) {
    console.error(`backend ${backendBase()} /info unavailable: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

/**
 * The backend's /info as the UI reads it, cached for INFO_TTL_MS; null when the backend cannot
 * say (unreachable, or no usable answer), which is not cached.
 */
export async function backendInfo(): Promise<UiInfo | null> {
  if (info && Date.now() < info.until) return info.value;
  infoLoading ??= loadInfo().finally(() => {
    infoLoading = null;
  });
  return infoLoading;
}
