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
