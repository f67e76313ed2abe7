// End to end: the real chatterbox-server (tiny random-weight checkpoint) behind the built Next.js
// standalone server, driven through Debian's Chromium with playwright-core. A second pair (the
// server started with non-default limits) shows that the page takes its limits from the backend's
// /info, and a third Next.js server without a backend shows the page refusing to guess them.
//
// Needs: `npm run build` done, and the release binaries (scripts/web-test.sh builds them):
//   CBX_SERVER_BIN  chatterbox-server        (default $CARGO_TARGET_DIR|../target /release/chatterbox-server)
//   CBX_TINY_BIN    tiny_checkpoint example  (default …/release/examples/tiny_checkpoint)
//   CHROMIUM        browser                  (default /usr/bin/chromium)
// CBX_E2E_WEB and CBX_E2E_BACKEND (both or neither): drive an already running pair instead of
// starting the first one here (scripts/docker-ci.sh: the docker compose stack, the UI container
// proxying to the backend container); the other pairs still start here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const repo = path.resolve(webDir, "..");
const target = process.env.CARGO_TARGET_DIR ?? path.join(repo, "target");
const SERVER_BIN = process.env.CBX_SERVER_BIN ?? path.join(target, "release", "chatterbox-server");
const TINY_BIN = process.env.CBX_TINY_BIN ?? path.join(target, "release", "examples", "tiny_checkpoint");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const RESULTS = path.join(webDir, "test-results");

const procs = [];
let tmp;
let web; // base URL of the Next.js server
let backend; // base URL of chatterbox-server
let web2; // Next.js in front of backend2
let backend2; // chatterbox-server with LIMITS2
let web3; // Next.js in front of nothing
let web4; // Next.js in front of backend4
let backend4; // chatterbox-server with a tiny multilingual checkpoint
let browser;
let ctx;
let page;
const pageErrors = [];

/** backend2's limits (flags), and environment variables web2 is given and must ignore. */
const LIMITS2 = { maxTextChars: 150, maxUploadBytes: 65536, maxVoiceSeconds: 30 };
const STALE_ENV = { TTS_MAX_TEXT_CHARS: "999", TTS_MAX_UPLOAD_BYTES: "999999999", TTS_MAX_VOICE_SECONDS: "99" };
const EXTERNAL = { web: process.env.CBX_E2E_WEB, backend: process.env.CBX_E2E_BACKEND };
assert.equal(!EXTERNAL.web, !EXTERNAL.backend, "set both CBX_E2E_WEB and CBX_E2E_BACKEND, or neither");
const fixture = JSON.parse(readFileSync(path.join(webDir, "tests", "fixtures", "info.json"), "utf8"));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(name, cmd, args, env) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (d) => {
    log = (log + d.toString()).slice(-8000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const p = { name, child, log: () => log };
  procs.push(p);
  return p;
}

async function waitFor(url, proc, seconds) {
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${proc.name} exited (${proc.child.exitCode}):\n${proc.log()}`);
    }
    try {
      const r = await fetch(url, { redirect: "manual" });
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${proc.name} not ready at ${url} after ${seconds} s:\n${proc.log()}`);
}

/** 16-bit mono PCM WAV. */
function wav(seconds, sampleRate, f) {
  const n = Math.round(seconds * sampleRate);
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write("RIFF", 0);
  buf.writeUInt32LE(36 + 2 * n, 4);
  buf.write("WAVE", 8);
  buf.write("fmt ", 12);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(2 * sampleRate, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write("data", 36);
  buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    const v = Math.max(-1, Math.min(1, f(i / sampleRate)));
    buf.writeInt16LE(Math.round(v * 32767), 44 + 2 * i);
  }
  return buf;
}

const voiceClip = () =>
  wav(2, 24000, (t) => 0.3 * Math.sin(2 * Math.PI * 140 * t) * (0.5 + 0.5 * Math.sin(7 * t)) + 0.1 * Math.sin(2 * Math.PI * 420 * t));

before(async () => {
  for (const [what, p] of [
    ["chatterbox-server", SERVER_BIN],
    ["tiny_checkpoint", TINY_BIN],
    ["chromium", CHROMIUM],
    ["the standalone build (npm run build)", path.join(webDir, ".next", "standalone", "server.js")],
  ]) {
    assert.ok(existsSync(p), `${what} not found at ${p}`);
  }
  tmp = mkdtempSync(path.join(tmpdir(), "cbx-web-e2e-"));
  // The tiny checkpoint goes through the images' weight step (deploy/fetch-weights.sh local).
  execFileSync(TINY_BIN, [path.join(tmp, "tiny")], { stdio: "ignore" });
  const model = path.join(tmp, "model");
  execFileSync(path.join(repo, "deploy", "fetch-weights.sh"), ["local", path.join(tmp, "tiny"), model], { stdio: "ignore" });
  const mtlModel = path.join(tmp, "tiny-mtl");
  execFileSync(TINY_BIN, [mtlModel, "0", "--multilingual"], { stdio: "ignore" });

  const [bPort, wPort, b2Port, w2Port, w3Port, deadPort, b4Port, w4Port] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  backend = EXTERNAL.backend ?? `http://127.0.0.1:${bPort}`;
  web = EXTERNAL.web ?? `http://127.0.0.1:${wPort}`;
  backend2 = `http://127.0.0.1:${b2Port}`;
  web2 = `http://127.0.0.1:${w2Port}`;
  web3 = `http://127.0.0.1:${w3Port}`;
  backend4 = `http://127.0.0.1:${b4Port}`;
  web4 = `http://127.0.0.1:${w4Port}`;
  // Configured through the environment, as in the server image (Dockerfile.base / Dockerfile.web).
  const backendEnv = (port, out) => ({
    CHATTERBOX_HOST: "127.0.0.1",
    CHATTERBOX_PORT: String(port),
    CHATTERBOX_MODEL_DIR: model,
    CHATTERBOX_OUT_DIR: path.join(tmp, out),
    CHATTERBOX_THREADS: "1",
    RUST_LOG: "warn",
  });
  const b = EXTERNAL.backend ? null : start("chatterbox-server", SERVER_BIN, [], backendEnv(bPort, "out"));
  const b2 = start(
    "chatterbox-server (limits)",
    SERVER_BIN,
    [
      "--max-text-chars",
      String(LIMITS2.maxTextChars),
      "--max-upload-bytes",
      String(LIMITS2.maxUploadBytes),
      "--max-voice-seconds",
      String(LIMITS2.maxVoiceSeconds),
    ],
    backendEnv(b2Port, "out2"),
  );
  const nextServer = (name, port, base, env = {}) =>
    start(name, process.execPath, [path.join(webDir, ".next", "standalone", "server.js")], {
      PORT: String(port),
      HOSTNAME: "127.0.0.1",
      TTS_API_BASE: base,
      NEXT_TELEMETRY_DISABLED: "1",
      ...env,
    });
  const w = EXTERNAL.web ? null : nextServer("next", wPort, backend);
  const w2 = nextServer("next (limits)", w2Port, backend2, STALE_ENV);
  const w3 = nextServer("next (no backend)", w3Port, `http://127.0.0.1:${deadPort}`);
  const b4 = start("chatterbox-server (multilingual)", SERVER_BIN, [], {
    ...backendEnv(b4Port, "out4"),
    CHATTERBOX_MODEL_DIR: mtlModel,
  });
  const w4 = nextServer("next (multilingual)", w4Port, backend4);
  await Promise.all([
    waitFor(`${backend}/health`, b ?? { name: "backend", child: { exitCode: null }, log: () => "" }, 120),
    waitFor(`${web}/tts`, w ?? { name: "web", child: { exitCode: null }, log: () => "" }, 60),
    waitFor(`${backend2}/health`, b2, 120),
    waitFor(`${web2}/tts`, w2, 60),
    waitFor(`${web3}/tts`, w3, 60),
    waitFor(`${backend4}/health`, b4, 120),
    waitFor(`${web4}/tts`, w4, 60),
  ]);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  // A phone-sized page: the layout has to work there.
  ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  page = await ctx.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  mkdirSync(RESULTS, { recursive: true });
});

after(async () => {
  await browser?.close().catch(() => undefined);
  for (const p of procs) p.child.kill("SIGTERM");
  await Promise.all(
    procs.map(
      (p) =>
        new Promise((resolve) => {
          if (p.child.exitCode !== null) return resolve();
          const t = setTimeout(() => {
            p.child.kill("SIGKILL");
            resolve();
          }, 5000);
          p.child.once("exit", () => {
            clearTimeout(t);
            resolve();
          });
        }),
    ),
  );
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The exec-form HEALTHCHECK command of a Dockerfile. */
function healthcheck(dockerfile) {
  const text = readFileSync(path.join(repo, dockerfile), "utf8").replace(/\\\n/g, " ");
  const m = text.match(/^HEALTHCHECK .*?CMD (\[.*\])\s*$/m);
  assert.ok(m, `${dockerfile} has an exec-form HEALTHCHECK`);
  return JSON.parse(m[1]);
}

test("the images' HEALTHCHECK commands pass against the running servers", () => {
  const [cmd, ...args] = healthcheck("Dockerfile.web");
  execFileSync(cmd, args.map((a) => a.replace("127.0.0.1:7860", new URL(backend).host)), { stdio: "ignore" });
  const [wcmd, ...wargs] = healthcheck("web/Dockerfile");
  execFileSync(wcmd === "node" ? process.execPath : wcmd, wargs, {
    stdio: "ignore",
    env: { ...process.env, PORT: new URL(web).port },
  });
});

test("/ redirects to /tts, which shows the form with the defaults", async () => {
  await page.goto(`${web}/`);
  assert.equal(new URL(page.url()).pathname, "/tts");
  await page.getByRole("heading", { name: "Text to speech" }).waitFor();
  assert.equal(await page.getByTestId("counter").textContent(), "0 / 20000");
  await page.getByLabel("Text").fill("Hello from the browser.");
  assert.equal(await page.getByTestId("counter").textContent(), "23 / 20000");
  await page.getByText("Advanced").click();
  assert.equal(await page.getByLabel("Exaggeration").inputValue(), "0.5");
  assert.equal(await page.getByLabel("CFG weight").inputValue(), "0.5");
  assert.equal(await page.getByLabel("Temperature").inputValue(), "0.8");
  assert.equal(await page.getByLabel("Repetition penalty").inputValue(), "1.2");
  assert.equal(await page.getByLabel("Min p").inputValue(), "0.05");
  assert.equal(await page.getByLabel("Top p").inputValue(), "1.0");
  assert.equal(await page.getByLabel("Top k").inputValue(), "0");
  assert.equal(await page.getByLabel("Seed").inputValue(), "");
});

/** Picks "a clip of my own" as the voice on `p`; its file input. */
async function clipInput(p) {
  await p.getByLabel("Voice", { exact: true }).selectOption(":clip");
  return p.locator('input[name="voice_prompt"]');
}

test("a file that is not audio is refused in the browser", async () => {
  assert.equal(await page.getByLabel("Voice", { exact: true }).inputValue(), "default");
  await (await clipInput(page)).setInputFiles({
    name: "notes.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("not a voice"),
  });
  await page.getByTestId("voice-problem").filter({ hasText: "not an audio file" }).waitFor();
});

let sid;

test("upload a voice, synthesize, play", async () => {
  await (await clipInput(page)).setInputFiles({ name: "voice.wav", mimeType: "audio/wav", buffer: voiceClip() });
  // Duration decoded in the browser.
  await page.getByTestId("voice-status").filter({ hasText: "voice.wav" }).filter({ hasText: "2.0 s" }).waitFor();
  assert.equal(await page.getByTestId("voice-problem").textContent(), "");
  await page.getByLabel("Max speech tokens").fill("30");
  await page.getByLabel("Seed").fill("7");

  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/tts/synthesize")),
    page.getByRole("button", { name: "Synthesize" }).click(),
  ]);
  assert.equal(res.status(), 200, await res.text());
  const body = await res.json();
  sid = body.session_id;
  assert.equal(body.voice, "upload");
  assert.equal(body.play_url, `/api/tts/play/${sid}`);

  const player = page.getByTestId("player");
  await player.waitFor();
  await page.waitForFunction(
    () => {
      const a = document.querySelector("audio");
      return a && a.readyState >= 1 && a.duration > 0 && Number.isFinite(a.duration);
    },
    null,
    { timeout: 30000 },
  );
  const duration = await player.evaluate((a) => a.duration);
  assert.ok(Math.abs(duration - body.duration) < 0.05, `audio element ${duration} s vs ${body.duration} s`);
  await page.getByTestId("voice-status").filter({ hasText: "kept for this session" }).waitFor();
  await page.screenshot({ path: path.join(RESULTS, "tts-phone.png"), fullPage: true });
});

test("the next synthesis reuses the session's voice without re-uploading", async () => {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/tts/synthesize")),
    page.getByRole("button", { name: "Synthesize" }).click(),
  ]);
  assert.equal(res.status(), 200, await res.text());
  const sent = res.request().postData() ?? "";
  assert.ok(!sent.includes('name="voice_prompt"'), "no second upload");
  assert.ok(sent.includes(sid), "same session id sent");
  const body = await res.json();
  assert.equal(body.session_id, sid);
  assert.equal(body.voice, "upload");
  await page.waitForFunction(() => {
    const a = document.querySelector("audio");
    return a && a.src.endsWith("?v=2") && a.readyState >= 1 && a.duration > 0;
  });
});

test("the play proxy passes Range through", async () => {
  const full = await fetch(`${web}/api/tts/play/${sid}`);
  assert.equal(full.status, 200);
  assert.equal(full.headers.get("content-type"), "audio/wav");
  const size = (await full.arrayBuffer()).byteLength;
  assert.equal(Number(full.headers.get("content-length")), size);
  const part = await fetch(`${web}/api/tts/play/${sid}`, { headers: { range: "bytes=4-43" } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get("content-range"), `bytes 4-43/${size}`);
  assert.equal(part.headers.get("content-length"), "40");
  assert.equal(part.headers.get("accept-ranges"), "bytes");
  const bytes = Buffer.from(await part.arrayBuffer());
  assert.equal(bytes.length, 40);
  assert.equal(bytes.subarray(4, 8).toString(), "WAVE");
  const bad = await fetch(`${web}/api/tts/play/not-a-session`);
  assert.equal(bad.status, 404);
  assert.equal((await bad.json()).error.code, "session_not_found");
});

test("the download follows the format picker; the play proxy transcodes with ?format=", async () => {
  const wavRes = await fetch(`${web}/api/tts/play/${sid}`);
  const wavBytes = Buffer.from(await wavRes.arrayBuffer());
  for (const [format, type, magic] of [
    ["mp3", "audio/mpeg", null],
    ["opus", "audio/ogg", "OggS"],
    ["flac", "audio/flac", "fLaC"],
    ["pcm", "audio/pcm", null],
  ]) {
    const r = await fetch(`${web}/api/tts/play/${sid}?format=${format}`);
    assert.equal(r.status, 200, format);
    assert.equal(r.headers.get("content-type"), type, format);
    const bytes = Buffer.from(await r.arrayBuffer());
    if (magic) assert.equal(bytes.subarray(0, 4).toString("latin1"), magic, format);
    if (format === "pcm") assert.ok(bytes.equals(wavBytes.subarray(44)), "pcm is the WAV's samples");
    if (format === "mp3") assert.ok(bytes[0] === 0xff || bytes.subarray(0, 3).toString() === "ID3", "an MP3 frame");
  }
  const bad = await fetch(`${web}/api/tts/play/${sid}?format=aac`);
  assert.equal(bad.status, 400);
  assert.ok((await bad.json()).error.code, "the backend's error for a bad format");

  const picker = page.getByLabel("Download format");
  assert.deepEqual(
    await picker.locator("option").evaluateAll((os) => os.map((o) => o.value)),
    fixture.formats,
    "the picker offers /info's formats",
  );
  await picker.selectOption("flac");
  const link = page.getByTestId("download");
  assert.equal(await link.getAttribute("href"), `/api/tts/play/${sid}?format=flac`);
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  assert.equal(download.suggestedFilename(), `speech-${sid.slice(0, 8)}.flac`);
  assert.equal(readFileSync(await download.path()).subarray(0, 4).toString(), "fLaC");
  await picker.selectOption("wav");
  assert.equal(await link.getAttribute("href"), `/api/tts/play/${sid}`);
});

test("delete removes the audio on the server", async () => {
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.screenshot({ path: path.join(RESULTS, "tts-desktop.png"), fullPage: true });
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.getByTestId("status").filter({ hasText: "Deleted" }).waitFor();
  assert.equal(await page.getByTestId("player").count(), 0);
  const r = await fetch(`${backend}/play/${sid}`);
  assert.equal(r.status, 404);
});

test("the server's error message is shown as it is", async () => {
  // Browsers decode a silent clip happily; the backend refuses it (422 invalid_audio).
  await (await clipInput(page)).setInputFiles({ name: "silence.wav", mimeType: "audio/wav", buffer: wav(1.5, 16000, () => 0) });
  await page.getByTestId("voice-status").filter({ hasText: "silence.wav" }).waitFor();
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/tts/synthesize")),
    page.getByRole("button", { name: "Synthesize" }).click(),
  ]);
  assert.equal(res.status(), 422);
  const { error } = await res.json();
  assert.equal(error.code, "invalid_audio");
  const shown = page.getByTestId("error");
  await shown.filter({ hasText: error.message }).waitFor();
  assert.match(await shown.textContent(), /silent/);
  await page.screenshot({ path: path.join(RESULTS, "tts-error.png"), fullPage: true });
  assert.deepEqual(pageErrors, []);
});

test("voice library: save a voice, refuse a bad name and a taken one, synthesize with it, delete it", async () => {
  const name = page.getByLabel("Voice name");
  const clipFile = page.getByLabel("Voice clip");
  const save = page.getByRole("button", { name: "Save voice" });
  const problem = page.getByTestId("library-problem");
  const voicePost = (r) => r.url().endsWith("/api/tts/voices") && r.request().method() === "POST";
  await page.getByTestId("voice-list").locator('li[data-voice="default"]').waitFor();
  assert.equal(await page.getByRole("button", { name: "Delete voice default" }).count(), 0, "default cannot be deleted");

  await name.fill("bad name!");
  await clipFile.setInputFiles({ name: "alice.wav", mimeType: "audio/wav", buffer: voiceClip() });
  const [bad] = await Promise.all([page.waitForResponse(voicePost), save.click()]);
  assert.equal(bad.status(), 400);
  const badError = (await bad.json()).error;
  assert.equal(badError.code, "invalid_voice_name");
  await problem.filter({ hasText: badError.message }).waitFor();

  await name.fill("alice");
  const [ok] = await Promise.all([page.waitForResponse(voicePost), save.click()]);
  assert.equal(ok.status(), 201, await ok.text());
  await page.getByTestId("voice-list").locator('li[data-voice="alice"]').waitFor();
  await page.getByTestId("library-status").filter({ hasText: "Saved the voice alice" }).waitFor();
  assert.equal(await problem.textContent(), "");
  assert.equal(await page.getByLabel("Voice", { exact: true }).inputValue(), "alice", "the saved voice is picked");

  await name.fill("alice");
  await clipFile.setInputFiles({ name: "alice.wav", mimeType: "audio/wav", buffer: voiceClip() });
  const [taken] = await Promise.all([page.waitForResponse(voicePost), save.click()]);
  assert.equal(taken.status(), 409);
  await problem.filter({ hasText: "voice_exists" }).waitFor();
  await name.fill("");

  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/tts/synthesize")),
    page.getByRole("button", { name: "Synthesize" }).click(),
  ]);
  assert.equal(res.status(), 200, await res.text());
  const sent = res.request().postData() ?? "";
  assert.match(sent, /name="voice"\r\n\r\nalice\r\n/);
  assert.ok(!sent.includes('name="voice_prompt"'));
  assert.equal((await res.json()).voice, "alice");

  const builtin = await fetch(`${web}/api/tts/voices/default`, { method: "DELETE" });
  assert.equal(builtin.status, 403);
  assert.equal((await builtin.json()).error.code, "voice_builtin");

  const [del] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/tts/voices/alice") && r.request().method() === "DELETE"),
    page.getByRole("button", { name: "Delete voice alice" }).click(),
  ]);
  assert.equal(del.status(), 200);
  await page.getByTestId("library-status").filter({ hasText: "Deleted the voice alice" }).waitFor();
  assert.equal(await page.getByTestId("voice-list").locator('li[data-voice="alice"]').count(), 0);
  await page.waitForFunction(() => document.querySelector("select[name=voice]")?.value === "default");
  const list = await (await fetch(`${backend}/voices`)).json();
  assert.deepEqual(
    list.voices.map((v) => v.name),
    ["default"],
  );
  await page.screenshot({ path: path.join(RESULTS, "tts-library.png"), fullPage: true });
});

/** Seconds of a 16-bit mono WAV (or raw PCM) of `bytes` at 24 kHz. */
const seconds = (bytes, header = 44) => (bytes - header) / 2 / 24000;

test("another speed goes through /tts: played, stretched, downloadable in the chosen format", async () => {
  const speed = page.getByLabel("Speed");
  await page.getByLabel("Voice", { exact: true }).selectOption(":clip");
  assert.ok(await speed.isDisabled(), "no speed with a clip of one's own");
  await page.getByLabel("Voice", { exact: true }).selectOption("default");
  await page.getByLabel("Download format").selectOption("mp3");
  await speed.selectOption("1.5");
  assert.ok(await page.getByLabel("Play while it is synthesized (stream)").isDisabled(), "no streaming at another speed");

  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/tts/tts")),
    page.getByRole("button", { name: "Synthesize" }).click(),
  ]);
  assert.equal(res.status(), 200, await res.text());
  assert.equal(res.headers()["content-type"], "audio/mpeg");
  const sent = JSON.parse(res.request().postData() ?? "{}");
  assert.equal(sent.rate, 1.5);
  assert.equal(sent.format, "mp3");
  assert.equal(sent.voice, "default");
  assert.equal(sent.seed, 7);
  assert.equal(sent.max_new_tokens, 30);
  await page.waitForFunction(() => {
    const a = document.querySelector("audio");
    return a && a.src.startsWith("blob:") && a.readyState >= 1 && a.duration > 0;
  });
  const link = page.getByTestId("download");
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  assert.equal(download.suggestedFilename(), "speech-1.5x.mp3");
  const mp3 = readFileSync(await download.path());
  assert.ok(mp3[0] === 0xff || mp3.subarray(0, 3).toString() === "ID3", "an MP3 file");

  // The same request at 1× and 1.5× (same seed: the same speech): 1.5× is two thirds as long.
  const at = async (rate) => {
    const r = await fetch(`${web}/api/tts/tts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...sent, rate, format: "wav" }),
    });
    assert.equal(r.status, 200);
    return seconds((await r.arrayBuffer()).byteLength);
  };
  const [plain, fast] = [await at(1), await at(1.5)];
  assert.ok(Math.abs(fast - plain / 1.5) < 0.05 * plain, `1.5x: ${fast} s vs ${plain} s`);
  await speed.selectOption("1");
  await page.getByLabel("Download format").selectOption("wav");
});

const LONG_TEXT =
  "The first sentence is long enough to be spoken on its own. " +
  "Then a second sentence follows it, also long enough to stand alone. " +
  "A third one comes after that, so the stream has several chunks. " +
  "And the fourth sentence closes the little paragraph for the test.";

test("a streamed synthesis plays while it arrives, shows its progress, and the stored file downloads", async () => {
  await page.evaluate(() => {
    window.__starts = 0;
    const start = AudioBufferSourceNode.prototype.start;
    AudioBufferSourceNode.prototype.start = function (...args) {
      window.__starts += 1;
      return start.apply(this, args);
    };
  });
  await page.getByLabel("Text").fill(LONG_TEXT);
  await page.getByLabel("Max speech tokens").fill("20");
  await page.getByLabel("Play while it is synthesized (stream)").check();
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/tts/synthesize")),
    page.getByRole("button", { name: "Synthesize" }).click(),
  ]);
  assert.equal(res.status(), 200);
  assert.equal(res.headers()["content-type"], "audio/wav");
  const streamSid = res.headers()["x-session-id"];
  assert.match(streamSid, /^[0-9a-f-]{36}$/);
  assert.match(res.request().postData() ?? "", /name="stream"\r\n\r\ntrue\r\n/);

  const progress = page.getByTestId("stream-progress");
  await page.locator('[data-testid="stream-progress"][data-done="true"]').waitFor({ timeout: 60000 });
  const meta = await (await fetch(`${backend}/sessions/${streamSid}`)).json();
  assert.ok(meta.chunks_total >= 2, `several chunks: ${meta.chunks_total}`);
  assert.equal(meta.chunks_done, meta.chunks_total);
  await progress.filter({ hasText: `${meta.chunks_total} / ${meta.chunks_total} chunks` }).waitFor();
  const buffers = Number(await progress.getAttribute("data-buffers"));
  const received = Number(await progress.getAttribute("data-received"));
  assert.ok(buffers >= 1, "buffers were scheduled");
  assert.equal(await page.evaluate(() => window.__starts), buffers, "each scheduled buffer was started");
  assert.ok(Math.abs(received - meta.duration) < 0.002, `received ${received} s, stored ${meta.duration} s`);

  await page.waitForFunction(
    (s) => {
      const a = document.querySelector("audio");
      return a && a.src.includes(s) && a.readyState >= 1 && a.duration > 0;
    },
    streamSid,
  );
  const link = page.getByTestId("download");
  assert.equal(await link.getAttribute("href"), `/api/tts/play/${streamSid}`);
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  const file = readFileSync(await download.path());
  assert.equal(file.subarray(8, 12).toString(), "WAVE");
  assert.ok(Math.abs(seconds(file.length) - received) < 0.002);
  await page.screenshot({ path: path.join(RESULTS, "tts-stream.png"), fullPage: true });
  await page.getByLabel("Play while it is synthesized (stream)").uncheck();
  assert.deepEqual(pageErrors, []);
});

test("the synthesize proxy passes a stream through as it is produced, byte for byte", async (t) => {
  const text = `${LONG_TEXT} A fifth sentence makes the stream a little longer still. The sixth and last one ends it here.`;
  const t0 = performance.now();
  const res = await fetch(`${web}/api/tts/synthesize`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text, stream: true, seed: 3, max_new_tokens: 25 }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "audio/wav");
  const streamSid = res.headers.get("x-session-id");
  const pieces = [];
  let got = 0;
  let firstAudioAt = null;
  for await (const piece of res.body) {
    pieces.push(Buffer.from(piece));
    got += piece.byteLength;
    if (firstAudioAt === null && got > 44) firstAudioAt = performance.now() - t0;
  }
  const endAt = performance.now() - t0;
  const body = Buffer.concat(pieces);
  assert.equal(body.readUInt32LE(4), 0xffffffff, "RIFF size unknown");
  assert.equal(body.readUInt32LE(40), 0xffffffff, "data size unknown");
  const stored = Buffer.from(await (await fetch(`${web}/api/tts/play/${streamSid}`)).arrayBuffer());
  assert.ok(body.subarray(44).equals(stored.subarray(44)), "the streamed PCM is the stored file's");
  t.diagnostic(`first audio after ${firstAudioAt.toFixed(0)} ms of ${endAt.toFixed(0)} ms (${pieces.length} pieces)`);
  assert.ok(firstAudioAt < 0.75 * endAt, `first audio after ${firstAudioAt} ms of ${endAt} ms`);
});

test("voice conversion tab: a recording spoken again in the built-in, a saved or a clip's voice, downloadable", async (t) => {
  // A saved voice, made through the backend itself.
  const made = new FormData();
  made.append("name", "bob");
  made.append("audio", new Blob([voiceClip()], { type: "audio/wav" }), "bob.wav");
  assert.equal((await fetch(`${backend}/voices`, { method: "POST", body: made })).status, 201);
  t.after(() => fetch(`${backend}/voices/bob`, { method: "DELETE" }));

  const errors = [];
  const p = await newPage(errors);
  await p.goto(`${web}/tts`);
  await p.getByRole("link", { name: "Voice conversion" }).click();
  await p.getByRole("heading", { name: "Voice conversion" }).waitFor();
  assert.equal(new URL(p.url()).pathname, "/vc");
  assert.equal(await p.getByRole("link", { name: "Voice conversion" }).getAttribute("aria-current"), "page");
  const convertButton = p.getByRole("button", { name: "Convert", exact: true });
  assert.ok(await convertButton.isDisabled(), "nothing to convert yet");
  await p.getByLabel("Speech to convert").setInputFiles({ name: "speech.wav", mimeType: "audio/wav", buffer: voiceClip() });
  await p.getByTestId("vc-source-status").filter({ hasText: "2.0 s" }).waitFor();
  const target = p.getByLabel("Target voice", { exact: true });
  assert.equal(await target.inputValue(), "default");
  assert.deepEqual(await target.locator("option").evaluateAll((os) => os.map((o) => o.value)), ["default", "bob", ":clip"]);

  const vcPost = (r) => r.url().endsWith("/api/tts/vc");
  const [res] = await Promise.all([p.waitForResponse(vcPost), convertButton.click()]);
  assert.equal(res.status(), 200, await res.text());
  assert.equal(res.headers()["content-type"], "audio/wav");
  await p.waitForFunction(() => {
    const a = document.querySelector("audio");
    return a && a.src.startsWith("blob:") && a.readyState >= 1 && a.duration > 0;
  });
  const duration = await p.getByTestId("player").evaluate((a) => a.duration);
  assert.ok(Math.abs(duration - 2) < 0.3, `about as long as the 2 s source: ${duration} s`);

  await target.selectOption(":clip");
  assert.ok(await convertButton.isDisabled(), "a target clip is needed");
  await p.getByLabel("Target voice clip").setInputFiles({ name: "target.wav", mimeType: "audio/wav", buffer: voiceClip() });
  await p.getByLabel("Format").selectOption("mp3");
  const [mp3] = await Promise.all([p.waitForResponse(vcPost), convertButton.click()]);
  assert.equal(mp3.status(), 200, await mp3.text());
  assert.equal(mp3.headers()["content-type"], "audio/mpeg");
  const [download] = await Promise.all([p.waitForEvent("download"), p.getByTestId("download").click()]);
  assert.equal(download.suggestedFilename(), "converted.mp3");
  const file = readFileSync(await download.path());
  assert.ok(file[0] === 0xff || file.subarray(0, 3).toString() === "ID3", "an MP3 file");

  // The backend's errors as they are (which also shows what was sent): a silent target clip, ...
  const shown = p.getByTestId("error");
  await p.getByLabel("Target voice clip").setInputFiles({ name: "quiet.wav", mimeType: "audio/wav", buffer: wav(1.5, 16000, () => 0) });
  await p.getByTestId("vc-prompt-status").filter({ hasText: "1.5 s" }).waitFor();
  const [quiet] = await Promise.all([p.waitForResponse(vcPost), convertButton.click()]);
  assert.equal(quiet.status(), 422);
  await shown.filter({ hasText: (await quiet.json()).error.message }).waitFor();
  // ... a saved voice deleted behind the page's back, ...
  await target.selectOption("bob");
  assert.equal((await fetch(`${backend}/voices/bob`, { method: "DELETE" })).status, 200);
  const [gone] = await Promise.all([p.waitForResponse(vcPost), convertButton.click()]);
  assert.equal(gone.status(), 404);
  const goneError = (await gone.json()).error;
  assert.equal(goneError.code, "voice_not_found");
  await shown.filter({ hasText: goneError.message }).waitFor();
  assert.match(await shown.textContent(), /voice_not_found/);
  // ... and a silent recording.
  await target.selectOption("default");
  await p.getByLabel("Speech to convert").setInputFiles({ name: "silence.wav", mimeType: "audio/wav", buffer: wav(1.5, 16000, () => 0) });
  await p.getByTestId("vc-source-status").filter({ hasText: "1.5 s" }).waitFor();
  const [bad] = await Promise.all([p.waitForResponse(vcPost), convertButton.click()]);
  assert.equal(bad.status(), 422);
  await shown.filter({ hasText: (await bad.json()).error.message }).waitFor();
  await p.screenshot({ path: path.join(RESULTS, "vc.png"), fullPage: true });
  await p.close();
  assert.deepEqual(errors, []);
});

test("the language picker: none for an English-only model, /info's languages for a multilingual one", async () => {
  assert.deepEqual(fixture.languages, [{ code: "en", name: "English" }]);
  assert.equal(await page.getByLabel("Language").count(), 0, "no picker for one language");
  const [plain] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/tts/synthesize")),
    page.getByRole("button", { name: "Synthesize" }).click(),
  ]);
  assert.equal(plain.status(), 200);
  assert.ok(!(plain.request().postData() ?? "").includes('name="language"'), "no language sent");

  const info = await (await fetch(`${backend4}/info`)).json();
  assert.equal(info.model.variant, "multilingual");
  assert.ok(info.languages.length > 1);
  const errors = [];
  const p = await newPage(errors);
  await p.goto(`${web4}/tts`);
  const language = p.getByLabel("Language");
  await language.waitFor();
  assert.deepEqual(
    await language.locator("option").evaluateAll((os) => os.map((o) => o.value)),
    info.languages.map((l) => l.code),
  );
  assert.equal(await language.inputValue(), "en", "English first");
  await language.selectOption("fr");
  await p.getByLabel("Text").fill("Bonjour tout le monde.");
  await p.getByText("Advanced").click();
  await p.getByLabel("Max speech tokens").fill("20");
  const [res] = await Promise.all([
    p.waitForResponse((r) => r.url().endsWith("/api/tts/synthesize")),
    p.getByRole("button", { name: "Synthesize" }).click(),
  ]);
  assert.equal(res.status(), 200, await res.text());
  assert.match(res.request().postData() ?? "", /name="language"\r\n\r\nfr\r\n/);
  await p.getByTestId("status").filter({ hasText: "Done" }).waitFor();

  await p.getByLabel("Speed").selectOption("1.25");
  const [fast] = await Promise.all([
    p.waitForResponse((r) => r.url().endsWith("/api/tts/tts")),
    p.getByRole("button", { name: "Synthesize" }).click(),
  ]);
  assert.equal(fast.status(), 200, await fast.text());
  assert.equal(JSON.parse(fast.request().postData() ?? "{}").language, "fr");
  await p.screenshot({ path: path.join(RESULTS, "tts-language.png"), fullPage: true });
  await p.close();
  assert.deepEqual(errors, []);
});

/** A fresh page in the phone-sized context; its script errors go to `errors`. */
async function newPage(errors) {
  const p = await ctx.newPage();
  p.on("pageerror", (e) => errors.push(String(e)));
  return p;
}

test("the web server passes the backend's /info through; it is the contract test's reference answer", async () => {
  const direct = await fetch(`${backend}/info`);
  assert.equal(direct.status, 200);
  const info = await direct.json();
  assert.deepEqual(info, fixture, "tests/fixtures/info.json is what the server answers");
  const proxied = await fetch(`${web}/api/tts/info`);
  assert.equal(proxied.status, 200);
  assert.equal(proxied.headers.get("cache-control"), "no-store");
  assert.deepEqual(await proxied.json(), info);
});

test("the page's limits come from the backend's /info, not from the web server's environment", async () => {
  const errors = [];
  const p = await newPage(errors);
  // Hold /info back to see the page while it loads: nothing can be sent yet.
  let release;
  const held = new Promise((resolve) => {
    release = resolve;
  });
  await p.route("**/api/tts/info", async (route) => {
    await held;
    await route.continue();
  });
  await p.goto(`${web2}/tts`);
  await p.getByTestId("status").filter({ hasText: "Loading the speech server's limits" }).waitFor();
  await p.getByLabel("Text").fill("Hello.");
  assert.ok(await p.getByRole("button", { name: "Synthesize" }).isDisabled(), "nothing is sent before /info");
  assert.equal(await p.getByTestId("counter").count(), 0, "no counter against an unknown limit");
  release();

  const { maxTextChars, maxUploadBytes, maxVoiceSeconds } = LIMITS2;
  await p.getByTestId("counter").filter({ hasText: `6 / ${maxTextChars}` }).waitFor();
  assert.equal(await p.getByTestId("status").textContent(), "");
  assert.ok(await p.getByRole("button", { name: "Synthesize" }).isEnabled());
  await p.getByLabel("Text").fill("x".repeat(maxTextChars + 1));
  assert.equal(await p.getByTestId("counter").textContent(), `${maxTextChars + 1} / ${maxTextChars}`);
  await p.getByText("Too long by 1 characters.").waitFor();
  assert.ok(await p.getByRole("button", { name: "Synthesize" }).isDisabled());
  const input = await clipInput(p);
  await p.getByText(`1–${maxVoiceSeconds} s`).waitFor();
  await p.getByText(`up to ${maxUploadBytes / 1024} KB`).waitFor();
  // The 2 s clip (96 KB) is over this backend's upload limit.
  await input.setInputFiles({ name: "voice.wav", mimeType: "audio/wav", buffer: voiceClip() });
  await p.getByTestId("voice-problem").filter({ hasText: `the limit is ${maxUploadBytes / 1024} KB` }).waitFor();
  // The parameter inputs come from /info too.
  await p.getByText("Advanced").click();
  assert.equal(await p.getByLabel("Top p").inputValue(), "1.0");
  assert.equal(await p.getByLabel("Max speech tokens").getAttribute("max"), "1000");
  assert.match(await p.locator("#param-top_p-help").textContent(), /Nucleus sampling/);
  // An exclusive minimum (which the input's min attribute cannot say) still blocks the form.
  await p.getByLabel("Top p").fill("0");
  assert.match(await p.getByLabel("Top p").evaluate((i) => i.validationMessage), /\(0, 1\]/);
  await p.getByRole("button", { name: "Reset to defaults" }).click();
  assert.equal(await p.getByLabel("Top p").evaluate((i) => i.validity.valid), true);
  await p.screenshot({ path: path.join(RESULTS, "tts-limits.png"), fullPage: true });
  await p.close();
  assert.deepEqual(errors, []);
});

test("the synthesize proxy refuses a declared oversize upload with the backend's own limit", async () => {
  const form = new FormData();
  form.append("text", "Hello.");
  const big = Buffer.alloc(LIMITS2.maxUploadBytes + 300 * 1024);
  form.append("voice_prompt", new Blob([big], { type: "audio/wav" }), "big.wav");
  const res = await fetch(`${web2}/api/tts/synthesize`, { method: "POST", body: form });
  assert.equal(res.status, 413);
  assert.equal(res.headers.get("x-request-id"), null, "answered by the proxy, not the backend");
  const { error } = await res.json();
  assert.equal(error.code, "upload_too_large");
  assert.equal(error.message, `voice_prompt exceeds ${LIMITS2.maxUploadBytes} bytes`);
});

test("without the backend's /info the page says so and sends nothing", async () => {
  const res = await fetch(`${web3}/api/tts/info`);
  assert.equal(res.status, 502);
  assert.equal((await res.json()).error.code, "backend_unavailable");
  const errors = [];
  const p = await newPage(errors);
  await p.goto(`${web3}/tts`);
  const shown = p.getByTestId("error");
  await shown.filter({ hasText: "Could not load the speech server's limits and parameters" }).waitFor();
  assert.match(await shown.textContent(), /backend_unavailable/);
  await p.getByLabel("Text").fill("Hello.");
  assert.ok(await p.getByRole("button", { name: "Synthesize" }).isDisabled());
  assert.equal(await p.getByTestId("counter").count(), 0);
  assert.ok(await (await clipInput(p)).isDisabled());
  assert.ok(await p.getByLabel("Voice clip").isDisabled(), "no library upload without the limits");
  await p.getByText("Advanced").click();
  await p.getByText("The parameters are unavailable").waitFor();
  const [again] = await Promise.all([
    p.waitForResponse((r) => r.url().endsWith("/api/tts/info")),
    p.getByRole("button", { name: "Retry" }).click(),
  ]);
  assert.equal(again.status(), 502);
  await shown.filter({ hasText: "Could not load" }).waitFor();
  await p.screenshot({ path: path.join(RESULTS, "tts-no-info.png"), fullPage: true });
  await p.close();
  assert.deepEqual(errors, []);
});
