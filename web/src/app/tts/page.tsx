import type { Metadata } from "next";
import Tabs from "../Tabs";
import TtsForm from "./TtsForm";

export const metadata: Metadata = { title: "Text to speech · Chatterbox" };

export default function TtsPage() {
  return (
    <main className="page">
      <Tabs />
      <header className="page-head">
        <h1>Text to speech</h1>
        <p className="lede">Type some text, optionally give a voice to imitate, and listen.</p>
      </header>
      {/* Limits and parameters come from the backend's /info, loaded in the browser. */}
      <TtsForm />
    </main>
  );
}
