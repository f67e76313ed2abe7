"use client";

import type { Result, StreamProgress } from "@/hooks/useSynthesis";
import type { AudioFormat } from "@/lib/api";
import { downloadUrl, FORMAT_EXT } from "@/lib/output";
import { formatSeconds } from "@/lib/voice";

/** A streamed synthesis as it arrives: audio received, buffers scheduled, the session's chunks. */
export function StreamStatus({ stream }: { stream: StreamProgress }) {
  const { chunksDone, chunksTotal, receivedS, buffers, done } = stream;
  const chunks = chunksTotal ? `${chunksDone ?? 0} / ${chunksTotal} chunks` : "starting…";
  return (
    <div
      className="stream-status"
      data-testid="stream-progress"
      data-buffers={buffers}
      data-received={receivedS.toFixed(3)}
      data-done={done}
    >
      <progress
        aria-label="Streamed synthesis"
        value={chunksTotal ? (chunksDone ?? 0) : undefined}
        max={chunksTotal ?? undefined}
      />
      <span>
        {done ? "Streamed" : "Streaming"}: {formatSeconds(receivedS)} received · {chunks}
      </span>
    </div>
  );
}

/** The latest synthesis: player, details, download (in the chosen format) and delete. */
export default function ResultPanel({
  result,
  format,
  onDelete,
}: {
  result: Result | null;
  format: AudioFormat;
  onDelete: () => void;
}) {
  if (!result) {
    return (
      <section className="card result" aria-label="Result">
        <p className="placeholder">The audio will appear here.</p>
      </section>
    );
  }
  const session = result.kind === "session";
  const fileFormat = session ? format : result.format;
  const href = session ? downloadUrl(result.playUrl, format) : result.download;
  const stem = session ? `speech-${result.sessionId.slice(0, 8)}` : `speech-${result.speed}x`;
  return (
    <section className="card result" aria-label="Result">
      <audio controls preload="auto" src={result.src} data-testid="player">
        <a href={href}>Download the audio</a>
      </audio>
      <p className="meta">
        {session ? (
          <>
            {formatSeconds(result.duration)} at {result.sampleRate / 1000} kHz · voice: {result.voice} · took{" "}
            {result.totalS.toFixed(1)} s{result.rtf !== undefined ? ` (RTF ${result.rtf.toFixed(2)})` : ""}
            {result.streamed ? " · streamed" : ""}
          </>
        ) : (
          <>
            voice: {result.voice} · {result.speed}× speed · {result.format} · took {result.totalS.toFixed(1)} s · not
            stored on the server
          </>
        )}
      </p>
      <div className="result-actions">
        <a className="button secondary" href={href} download={`${stem}.${FORMAT_EXT[fileFormat]}`} data-testid="download">
          Download {fileFormat}
        </a>
        <button type="button" className="secondary danger" onClick={onDelete}>
          {session ? "Delete" : "Remove"}
        </button>
      </div>
    </section>
  );
}
