"use client";

// The text-to-speech form: text, voice, parameters, synthesis and its result. The limits it checks
// and the parameter inputs it shows come from the backend's /info; until that has answered nothing
// can be sent, and when it cannot be loaded the page says so instead of guessing.
import { useMemo, useState } from "react";
import { useServerInfo } from "@/hooks/useServerInfo";
import { useStoredSession } from "@/hooks/useStoredSession";
import { useSynthesis } from "@/hooks/useSynthesis";
import { useVoice } from "@/hooks/useVoice";
import type { Problem } from "@/lib/client";
import { defaultValues, type ParamValues } from "@/lib/params";
import ParamsPanel from "./ParamsPanel";
import ResultPanel from "./ResultPanel";
import TextField, { countChars } from "./TextField";
import VoicePicker from "./VoicePicker";

export default function TtsForm() {
  const server = useServerInfo();
  const info = server.state.status === "ready" ? server.state.info : null;
  const limits = info?.limits ?? null;
  const stored = useStoredSession();
  const picker = useVoice(limits);
  const synth = useSynthesis({
    onSessionGone: () => {
      stored.save(null);
      picker.markNotUploaded();
    },
  });
  const [text, setText] = useState("");
  /** Parameter inputs the user changed; the others show the backend's defaults. */
  const [edited, setEdited] = useState<ParamValues>({});
  const params = useMemo(() => ({ ...defaultValues(info?.parameters ?? []), ...edited }), [info, edited]);

  const sessionVoice = stored.session?.voiceName ?? null;
  const overLimit = limits !== null && countChars(text) > limits.max_text_chars;
  const canSubmit = info !== null && !synth.busy && !picker.checking && !overLimit && text.trim().length > 0;

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!canSubmit || !info) return;
    const voice = picker.voice;
    const body = await synth.run({
      text,
      sessionId: stored.session?.sessionId ?? null,
      voicePrompt: voice && !voice.inSession ? voice.file : null,
      builtInVoice: !voice && !sessionVoice,
      params: Object.fromEntries(info.parameters.map((p) => [p.name, params[p.name] ?? ""])),
    });
    if (!body) return;
    const voiceName = voice ? voice.file.name : body.voice === "upload" ? sessionVoice : null;
    stored.save({ sessionId: body.session_id, voiceName });
    if (voice) picker.markUploaded(voice.file);
  }

  function chooseBuiltInVoice() {
    picker.clear();
    stored.dropVoice();
  }

  const infoProblem: Problem | null =
    server.state.status === "failed"
      ? {
          code: server.state.problem.code,
          message: `Could not load the speech server's limits and parameters: ${server.state.problem.message}`,
        }
      : null;
  const problem = synth.problem ?? infoProblem;
  const loading = server.state.status === "loading";

  return (
    <form className="tts" onSubmit={submit} aria-busy={synth.busy || loading}>
      <TextField value={text} onChange={setText} maxChars={limits?.max_text_chars ?? null} />

      <VoicePicker picker={picker} sessionVoice={sessionVoice} limits={limits} onUseBuiltIn={chooseBuiltInVoice} />

      <ParamsPanel
        params={info?.parameters ?? null}
        values={params}
        onChange={(name, value) => setEdited((v) => ({ ...v, [name]: value }))}
        onReset={() => setEdited({})}
        unavailable={loading ? "Loading the parameters…" : "The parameters are unavailable (see the error below)."}
      />

      <section className="actions">
        <button type="submit" className="primary" disabled={!canSubmit}>
          {synth.busy ? "Synthesizing…" : "Synthesize"}
        </button>
        {synth.busy && (
          <button type="button" className="secondary" onClick={synth.cancel}>
            Cancel
          </button>
        )}
        {server.state.status === "failed" && (
          <button type="button" className="secondary" onClick={server.retry}>
            Retry
          </button>
        )}
        <div className="progress" aria-live="polite" data-testid="status">
          {synth.busy ? (
            <>
              <progress aria-label="Synthesis in progress" />
              <span>{synth.elapsed.toFixed(1)} s</span>
            </>
          ) : (
            <span>{synth.status || (loading ? "Loading the speech server's limits…" : "")}</span>
          )}
        </div>
      </section>

      <div className="problem big" role="alert" data-testid="error">
        {problem ? (
          <>
            {problem.message} <code>{problem.code}</code>
          </>
        ) : null}
      </div>

      <ResultPanel result={synth.result} onDelete={() => void synth.remove()} />
    </form>
  );
}
