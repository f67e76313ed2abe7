"use client";

// The text-to-speech page: text, voice (built-in, saved or a clip of one's own), output (format,
// speed, streaming), parameters, synthesis and its result, and the voice library. The limits it
// checks and the inputs it shows come from the backend's /info; until that has answered nothing
// can be sent, and when it cannot be loaded the page says so instead of guessing.
import { useEffect, useMemo, useRef, useState } from "react";
import { useServerInfo } from "@/hooks/useServerInfo";
import { useStoredSession } from "@/hooks/useStoredSession";
import { useSynthesis } from "@/hooks/useSynthesis";
import { useVoice } from "@/hooks/useVoice";
import { useVoiceLibrary } from "@/hooks/useVoiceLibrary";
import type { AudioFormat } from "@/lib/api";
import type { Problem } from "@/lib/client";
import { defaultValues, type ParamValues } from "@/lib/params";
import OutputPanel from "./OutputPanel";
import LanguagePicker from "./LanguagePicker";
import ParamsPanel from "./ParamsPanel";
import ResultPanel, { StreamStatus } from "./ResultPanel";
import TextField, { countChars } from "./TextField";
import VoiceLibrary from "./VoiceLibrary";
import VoicePicker, { CLIP } from "./VoicePicker";

type AudioCtor = new () => AudioContext;

export default function TtsForm() {
  const server = useServerInfo();
  const info = server.state.status === "ready" ? server.state.info : null;
  const limits = info?.limits ?? null;
  const stored = useStoredSession();
  const picker = useVoice(limits);
  const library = useVoiceLibrary();
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
  const [choice, setChoice] = useState("default");
  const [format, setFormat] = useState<AudioFormat>("wav");
  const [speed, setSpeed] = useState(1);
  const [stream, setStream] = useState(false);
  const audioCtx = useRef<AudioContext | null>(null);

  const sessionVoice = stored.session?.voiceName ?? null;
  // A session with an uploaded voice continues with it.
  useEffect(() => {
    if (sessionVoice) setChoice(CLIP);
  }, [sessionVoice]);
  useEffect(() => () => void audioCtx.current?.close().catch(() => undefined), []);

  // A saved voice that is gone (deleted here or elsewhere) is no longer offered.
  const names = useMemo(
    () => (library.voices.length > 0 ? library.voices.map((v) => v.name) : ["default"]),
    [library.voices],
  );
  const libraryReady = library.state.status === "ready";
  useEffect(() => {
    if (libraryReady && choice !== CLIP && !names.includes(choice)) setChoice("default");
  }, [libraryReady, names, choice]);

  // The language: English when the model speaks it, else its first; a picker only for several.
  const languages = info?.languages;
  const [language, setLanguage] = useState<string | null>(null);
  useEffect(() => {
    if (!languages || languages.length === 0) return setLanguage(null);
    setLanguage((cur) =>
      cur && languages.some((l) => l.code === cur)
        ? cur
        : (languages.find((l) => l.code === "en") ?? languages[0]).code,
    );
  }, [languages]);
  const sentLanguage = languages && languages.length > 1 ? language : null;

  const formats = info?.formats ?? [];
  useEffect(() => {
    if (formats.length > 0 && !formats.includes(format)) setFormat(formats[0]);
  }, [formats, format]);

  const clip = choice === CLIP;
  const speedUnavailable = clip
    ? "Speed needs the built-in or a saved voice: POST /synthesize takes no speed, and the /tts endpoint that does takes only named voices. Save the clip in the library below to use it at another speed."
    : null;
  const effectiveSpeed = clip ? 1 : speed;
  const needsClip = clip && !picker.voice && !sessionVoice;
  const overLimit = limits !== null && countChars(text) > limits.max_text_chars;
  const canSubmit =
    info !== null && !synth.busy && !picker.checking && !overLimit && !needsClip && text.trim().length > 0;

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!canSubmit || !info) return;
    const paramValues = Object.fromEntries(info.parameters.map((p) => [p.name, params[p.name] ?? ""]));
    if (effectiveSpeed !== 1) {
      await synth.runSpeak(
        { text, voice: choice, speed: effectiveSpeed, format, language: sentLanguage, params: paramValues },
        info.sampleRate,
      );
      return;
    }
    const voice = clip ? picker.voice : null;
    const request = {
      text,
      sessionId: stored.session?.sessionId ?? null,
      voicePrompt: voice && !voice.inSession ? voice.file : null,
      voice: clip ? null : choice,
      language: sentLanguage,
      params: paramValues,
    };
    let done: { sessionId: string } | null;
    if (stream) {
      // Made while handling the click, so the browser lets it play.
      void audioCtx.current?.close().catch(() => undefined);
      const w = window as unknown as { AudioContext?: AudioCtor; webkitAudioContext?: AudioCtor };
      const Ctor = w.AudioContext ?? w.webkitAudioContext;
      if (!Ctor) {
        setStream(false);
        done = await synth.run(request);
      } else {
        const ctx = new Ctor();
        audioCtx.current = ctx;
        done = await synth.runStream(request, ctx);
      }
    } else {
      done = await synth.run(request);
    }
    if (!done) return;
    stored.save({ sessionId: done.sessionId, voiceName: voice ? voice.file.name : sessionVoice });
    if (voice) picker.markUploaded(voice.file);
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
    <>
      <form className="tts" onSubmit={submit} aria-busy={synth.busy || loading}>
        <TextField value={text} onChange={setText} maxChars={limits?.max_text_chars ?? null} />

        {languages && languages.length > 1 && language && (
          <LanguagePicker languages={languages} value={language} onChange={setLanguage} />
        )}

        <VoicePicker
          picker={picker}
          sessionVoice={sessionVoice}
          limits={limits}
          choice={choice}
          onChoice={setChoice}
          names={names}
        />

        <OutputPanel
          formats={formats}
          format={format}
          onFormat={setFormat}
          speed={effectiveSpeed}
          onSpeed={setSpeed}
          speedUnavailable={speedUnavailable}
          stream={stream}
          onStream={setStream}
        />

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
            {synth.busy && !synth.stream ? (
              <>
                <progress aria-label="Synthesis in progress" />
                <span>{synth.elapsed.toFixed(1)} s</span>
              </>
            ) : (
              <span>
                {synth.busy
                  ? `${synth.elapsed.toFixed(1)} s`
                  : synth.status || (loading ? "Loading the speech server's limits…" : needsClip ? "Choose a clip for the voice." : "")}
              </span>
            )}
          </div>
        </section>
        {synth.stream && <StreamStatus stream={synth.stream} />}

        <div className="problem big" role="alert" data-testid="error">
          {problem ? (
            <>
              {problem.message} <code>{problem.code}</code>
            </>
          ) : null}
        </div>

        <ResultPanel result={synth.result} format={format} onDelete={() => void synth.remove()} />
      </form>

      <VoiceLibrary
        library={library}
        limits={limits}
        onSaved={(name) => {
          setChoice(name);
        }}
      />
    </>
  );
}
