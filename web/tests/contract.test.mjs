// The UI's parameter table (src/lib/params.json) against the HTTP contract (docs/openapi.json):
// same fields, same defaults, bounds inside the documented ranges. The request/response *types* are
// generated from the same document (src/lib/api-types.ts) and checked by `next build`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const here = new URL(".", import.meta.url);
const openapi = JSON.parse(readFileSync(new URL("../../docs/openapi.json", here), "utf8"));
const params = JSON.parse(readFileSync(new URL("../src/lib/params.json", here), "utf8"));

const NOT_SAMPLING = new Set(["text", "session_id", "voice", "voice_prompt"]);

function samplingSchema(mediaType) {
  const props = openapi.paths["/synthesize"].post.requestBody.content[mediaType].schema.properties;
  return Object.fromEntries(Object.entries(props).filter(([k]) => !NOT_SAMPLING.has(k)));
}

test("the form exposes exactly the sampling fields of both request bodies", () => {
  const ui = params.map((p) => p.key).sort();
  assert.deepEqual(ui, Object.keys(samplingSchema("multipart/form-data")).sort());
  assert.deepEqual(ui, Object.keys(samplingSchema("application/json")).sort());
});

test("defaults and bounds match the document", () => {
  const schema = samplingSchema("multipart/form-data");
  for (const p of params) {
    const s = schema[p.key];
    if (s.default === undefined) {
      assert.equal(p.default, "", `${p.key}: no documented default, so the field starts empty`);
    } else {
      assert.equal(Number(p.default), s.default, `${p.key} default`);
    }
    assert.equal(p.step === "1", s.type === "integer", `${p.key}: integer step iff integer type`);
    if (s.minimum !== undefined) assert.equal(p.min, s.minimum, `${p.key} minimum`);
    if (s.exclusiveMinimum !== undefined) assert.ok(p.min > s.exclusiveMinimum, `${p.key} exclusive minimum`);
    if (s.maximum !== undefined) assert.equal(p.max, s.maximum, `${p.key} maximum`);
    else assert.equal(p.max, null, `${p.key}: no documented maximum`);
  }
});

test("the reference's sampling defaults", () => {
  const d = Object.fromEntries(params.map((p) => [p.key, p.default]));
  assert.deepEqual(
    {
      exaggeration: Number(d.exaggeration),
      cfg_weight: Number(d.cfg_weight),
      temperature: Number(d.temperature),
      repetition_penalty: Number(d.repetition_penalty),
      min_p: Number(d.min_p),
      top_p: Number(d.top_p),
      top_k: Number(d.top_k),
      seed: d.seed,
    },
    {
      exaggeration: 0.5,
      cfg_weight: 0.5,
      temperature: 0.8,
      repetition_penalty: 1.2,
      min_p: 0.05,
      top_p: 1.0,
      top_k: 0,
      seed: "",
    },
  );
});

test("the error and response shapes the UI reads are documented", () => {
  const { Error: err, SynthesizeResponse: ok } = openapi.components.schemas;
  assert.deepEqual(err.properties.error.required.sort(), ["code", "message"]);
  for (const k of ["session_id", "play_url", "duration", "sample_rate", "voice", "timings"]) {
    assert.ok(ok.required.includes(k), `SynthesizeResponse.${k} is required`);
  }
  assert.ok(ok.properties.timings.properties.total_s);
  assert.ok(ok.properties.timings.properties.rtf);
  const play = openapi.paths["/play/{sid}"].get;
  assert.ok(play.parameters.some((p) => p.in === "header" && p.name === "Range"));
  assert.ok(play.responses["206"]);
});
