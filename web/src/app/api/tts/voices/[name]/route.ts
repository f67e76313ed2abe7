// DELETE /api/tts/voices/{name} → backend DELETE /voices/{name} (403 voice_builtin for `default`,
// 404 voice_not_found); GET → the voice's details. The backend checks the name.
import { forwardPlain } from "@/lib/backend";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

type Ctx = { params: Promise<{ name: string }> };

export async function GET(_req: Request, { params }: Ctx): Promise<Response> {
  return forwardPlain("GET", `/voices/${encodeURIComponent((await params).name)}`);
}

export async function DELETE(_req: Request, { params }: Ctx): Promise<Response> {
  return forwardPlain("DELETE", `/voices/${encodeURIComponent((await params).name)}`);
}
