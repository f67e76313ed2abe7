import type { Metadata } from "next";
import Tabs from "../Tabs";
import VcForm from "./VcForm";

export const metadata: Metadata = { title: "Voice conversion · Chatterbox" };

export default function VcPage() {
  return (
    <main className="page">
      <Tabs />
      <header className="page-head">
        <h1>Voice conversion</h1>
        <p className="lede">Give a recording of speech and a target voice; hear the same speech in that voice.</p>
      </header>
      <VcForm />
    </main>
  );
}
