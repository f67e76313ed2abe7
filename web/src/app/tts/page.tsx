import type { Metadata } from "next";
import { limitsFromEnv } from "@/lib/limits";
import TtsForm from "./TtsForm";

export const dynamic = "force-dynamic";

export const metadata: Metadata = { title: "Text to speech · Chatterbox" };

export default function TtsPage() {
  return (
    <main className="page">
      <header className="page-head">
        <h1>Text to speech</h1>
        <p className="lede">Type some text, optionally give a voice to imitate, and listen.</p>
      </header>
      <TtsForm limits={limitsFromEnv()} />
    </main>
  );
}
