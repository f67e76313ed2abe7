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

  const [bPort, wPort, b2Port, w2Port, w3Port, deadPort] = [
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
  await Promise.all([
    waitFor(`${backend}/health`, b ?? { name: "backend", child: { exitCode: null }, log: () => "" }, 120),
    waitFor(`${web}/tts`, w ?? { name: "web", child: { exitCode: null }, log: () => "" }, 60),
    waitFor(`${backend2}/health`, b2, 120),
    waitFor(`${web2}/tts`, w2, 60),
    waitFor(`${web3}/tts`, w3, 60),
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

test("a file that is not audio is refused in the browser", async () => {
  await page.locator('input[type="file"]').setInputFiles({
    name: "notes.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("not a voice"),
  });
  await page.getByTestId("voice-problem").filter({ hasText: "not an audio file" }).waitFor();
});

let sid;

test("upload a voice, synthesize, play", async () => {
  await page.locator('input[type="file"]').setInputFiles({ name: "voice.wav", mimeType: "audio/wav", buffer: voiceClip() });
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

test("delete removes the audio on the server", async () => {
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.screenshot({ path: path.join(RESULTS, "tts-desktop.png"), fullPage: true });
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByTestId("status").filter({ hasText: "Deleted" }).waitFor();
  assert.equal(await page.getByTestId("player").count(), 0);
  const r = await fetch(`${backend}/play/${sid}`);
  assert.equal(r.status, 404);
});

test("the server's error message is shown as it is", async () => {
  // Browsers decode a silent clip happily; the backend refuses it (422 invalid_audio).
  await page.locator('input[type="file"]').setInputFiles({ name: "silence.wav", mimeType: "audio/wav", buffer: wav(1.5, 16000, () => 0) });
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
  await p.getByText(`1–${maxVoiceSeconds} s`).waitFor();
  await p.getByText(`up to ${maxUploadBytes / 1024} KB`).waitFor();
  // The 2 s clip (96 KB) is over this backend's upload limit.
  await p.locator('input[type="file"]').setInputFiles({ name: "voice.wav", mimeType: "audio/wav", buffer: voiceClip() });
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
  assert.ok(await p.locator('input[type="file"]').isDisabled());
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
