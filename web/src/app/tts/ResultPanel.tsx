"use client";

import type { Result } from "@/hooks/useSynthesis";
import { formatSeconds } from "@/lib/voice";

/** The latest synthesis: player, details, download and delete. */
export default function ResultPanel({ result, onDelete }: { result: Result | null; onDelete: () => void }) {
  return (
    <section className="card result" aria-label="Result">
      {result ? (
        <>
          <audio controls preload="auto" src={result.src} data-testid="player">
            <a href={result.src}>Download the audio</a>
          </audio>
          <p className="meta">
            {formatSeconds(result.duration)} at {result.sampleRate / 1000} kHz · voice: {result.voice} · took{" "}
            {result.totalS.toFixed(1)} s
            {result.rtf !== undefined ? ` (RTF ${result.rtf.toFixed(2)})` : ""}
          </p>
          <div className="result-actions">
            <a className="button secondary" href={result.src} download={`speech-${result.sessionId.slice(0, 8)}.wav`}>
              Download
            </a>
            <button type="button" className="secondary danger" onClick={onDelete}>
              Delete
            </button>
          </div>
        </>
      ) : (
        <p className="placeholder">The audio will appear here.</p>
      )}
    </section>
  );
}
