"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

const TABS = [
  { href: "/tts", label: "Text to speech" },
  { href: "/vc", label: "Voice conversion" },
] as const;

/** The pages as tabs (links; the current one marked for assistive technology). */
export default function Tabs() {
  const path = usePathname();
  return (
    <nav className="tabs" aria-label="Pages">
      {TABS.map((t) => (
        <Link key={t.href} href={t.href} aria-current={path === t.href ? "page" : undefined}>
          {t.label}
        </Link>
      ))}
    </nav>
  );
}
