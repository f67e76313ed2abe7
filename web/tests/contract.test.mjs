// The UI against the HTTP contract (docs/openapi.json). The request/response *types* are generated
// from the same document (src/lib/api-types.ts) and checked by `next build`; this test checks what
// types cannot:
// - the run-time reading of GET /info (src/lib/info.ts, parseInfo) uses only fields the `Info`
//   schema documents, needs only required ones, and accepts every value their types allow;
// - the parameter inputs the form makes from /info (src/lib/params.ts) for the reference server's
//   answer (tests/fixtures/info.json, compared with the live server by the e2e test) cover the
//   sampling fields of /synthesize with the documented defaults and bounds.
// info.ts and params.ts have only type imports, so each is transpiled on its own and imported here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import ts from "typescript";

const here = new URL(".", import.meta.url);
const openapi = JSON.parse(readFileSync(new URL("../../docs/openapi.json", here), "utf8"));
const fixture = JSON.parse(readFileSync(new URL("fixtures/info.json", here), "utf8"));

async function importTs(rel) {
  const source = readFileSync(new URL(rel, here), "utf8");
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  assert.doesNotMatch(outputText, /^\s*import\s/m, `${rel} must have only type imports`);
  return import(`data:text/javascript;base64,${Buffer.from(outputText).toString("base64")}`);
}

const { parseInfo, PARAM_KINDS } = await importTs("../src/lib/info.ts");
const { paramInput } = await importTs("../src/lib/params.ts");

// --- the document's schemas --------------------------------------------------------------------

const schemas = openapi.components.schemas;

function deref(s) {
  while (s && s.$ref) {
    const m = s.$ref.match(/^#\/components\/schemas\/(.+)$/);
    assert.ok(m && schemas[m[1]], `unresolvable $ref ${s.$ref}`);
    s = schemas[m[1]];
  }
  // A single-member allOf (how some generators attach a description to a $ref).
  if (s && Array.isArray(s.allOf) && s.allOf.length === 1) return deref(s.allOf[0]);
  return s;
}

/** The alternatives of a schema (oneOf/anyOf, e.g. `{oneOf: [{"type": "null"}, {$ref}]}`), resolved. */
function variants(s) {
  s = deref(s);
  const alts = s.oneOf ?? s.anyOf;
  return alts ? alts.flatMap(variants) : [s];
}

/** JSON types a schema allows: string, number, integer, boolean, null, object, array. */
function typesOf(s) {
  const out = new Set();
  for (const v of variants(s)) {
    for (const t of [v.type ?? []].flat()) out.add(t);
    if (v.nullable) out.add("null");
    if (v.enum && v.type === undefined) out.add("string");
  }
  return out;
}

/** Values of every type (and every enum member) a schema allows, for fields the UI reads. */
function sampleValues(s) {
  const out = [];
  for (const v of variants(s)) {
    if (v.enum) {
      out.push(...v.enum);
      continue;
    }
    for (const t of [v.type ?? []].flat()) {
      if (t === "null") out.push(null);
      if (t === "boolean") out.push(true, false);
      if (t === "integer") out.push(Math.max(3, v.minimum ?? 0));
      if (t === "number") out.push(Math.max(0.25, v.minimum ?? 0));
      if (t === "string") out.push("x");
    }
    if (v.nullable) out.push(null);
  }
  return out;
}

/** Check a document against a schema: required fields, types, enums, items. */
function conforms(value, s, at) {
  s = deref(s);
  const alts = variants(s);
  if (alts.length > 1 || alts[0] !== s) {
    const ok = alts.some((a) => {
      try {
        conforms(value, a, at);
        return true;
      } catch {
        return false;
      }
    });
    assert.ok(ok, `${at}: matches none of the alternatives`);
    return;
  }
  const types = typesOf(s);
  const t =
    value === null ? "null" : Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
  if (types.size > 0) {
    assert.ok(types.has(t) || (t === "integer" && types.has("number")), `${at}: ${t} where ${[...types]} is documented`);
  }
  if (s.enum) assert.ok(s.enum.includes(value), `${at}: ${JSON.stringify(value)} not in ${s.enum}`);
  if (t === "object" && s.properties) {
    for (const r of s.required ?? []) assert.ok(r in value, `${at}.${r} is required`);
    for (const [k, v] of Object.entries(value)) {
      if (s.properties[k]) conforms(v, s.properties[k], `${at}.${k}`);
      else assert.notEqual(s.additionalProperties, false, `${at}.${k} is not documented`);
    }
  }
  if (t === "array" && s.items) value.forEach((v, i) => conforms(v, s.items, `${at}[${i}]`));
}

// --- what parseInfo reads ----------------------------------------------------------------------

/** Run parseInfo on a copy of `doc` and record every field path it reads ("parameters[].kind"). */
function fieldsRead(doc) {
  const reads = new Set();
  const wrap = (v, path) => {
    if (typeof v !== "object" || v === null) return v;
    return new Proxy(v, {
      get(target, key, receiver) {
        const x = Reflect.get(target, key, receiver);
        if (typeof key === "symbol") return x;
        if (Array.isArray(target)) return /^\d+$/.test(key) ? wrap(x, `${path}[]`) : x;
        const p = path ? `${path}.${key}` : key;
        reads.add(p);
        return wrap(x, p);
      },
      has(target, key) {
        if (typeof key === "string" && !Array.isArray(target)) reads.add(path ? `${path}.${key}` : key);
        return Reflect.has(target, key);
      },
    });
  };
  parseInfo(wrap(structuredClone(doc), ""));
  return [...reads].sort();
}

/** The schema of a field path, and whether every object on the way requires it. */
function schemaAt(path) {
  let s = deref(schemas.Info);
  let required = true;
  for (const part of path.split(".")) {
    const [name, ...arrays] = part.split("[]");
    s = deref(s);
    assert.ok(s.properties?.[name], `Info: ${path} is not documented (no ${name})`);
    required &&= (s.required ?? []).includes(name);
    s = s.properties[name];
    for (let i = 0; i < arrays.length; i++) {
      s = deref(s);
      assert.ok(s.items, `Info: ${path}: ${name} is not documented as a list`);
      s = s.items;
    }
  }
  return { schema: s, required };
}

/** Set (or delete, with `value` undefined) the field at `path` in every object it occurs in. */
function setEverywhere(doc, path, value) {
  const walk = (node, parts) => {
    const [head, ...rest] = parts;
    const [name, ...arrays] = head.split("[]");
    if (rest.length === 0 && arrays.length === 0) {
      if (value === undefined) delete node[name];
      else node[name] = value;
      return;
    }
    let targets = [node[name]];
    for (let i = 0; i < arrays.length; i++) targets = targets.flat();
    for (const t of targets) walk(t, rest);
  };
  const copy = structuredClone(doc);
  walk(copy, path.split("."));
  return copy;
}

const leafTypes = new Set(["string", "number", "integer", "boolean", "null"]);

test("the reference /info answer conforms to the Info schema", () => {
  for (const name of ["Info", "ModelInfo", "Limits", "ParamSpec", "ParamKind"]) {
    assert.ok(schemas[name], `components.schemas.${name} is documented`);
  }
  const ok = openapi.paths["/info"]?.get?.responses?.["200"]?.content?.["application/json"]?.schema;
  assert.ok(ok, "GET /info is documented");
  assert.deepEqual(deref(ok), deref(schemas.Info), "GET /info answers an Info");
  conforms(fixture, schemas.Info, "info");
});

test("the UI reads only documented /info fields, needs only required ones, accepts every documented value", () => {
  const reads = fieldsRead(fixture);
  // What the page relies on (a smaller set would mean parseInfo stopped checking something).
  for (const f of [
    "limits.max_text_chars",
    "limits.max_upload_bytes",
    "limits.min_voice_seconds",
    "limits.max_voice_seconds",
    ...["name", "label", "kind", "default", "min", "max", "min_exclusive", "description"].map((k) => `parameters[].${k}`),
  ]) {
    assert.ok(reads.includes(f), `parseInfo reads ${f}`);
  }
  for (const path of reads) {
    const { schema, required } = schemaAt(path);
    const types = typesOf(schema);
    if (![...types].some((t) => leafTypes.has(t))) continue; // an object or list on the way
    if (!required) {
      assert.doesNotThrow(() => parseInfo(setEverywhere(fixture, path, undefined)), `${path} is optional: the UI copes without it`);
    }
    for (const v of sampleValues(schema)) {
      assert.doesNotThrow(() => parseInfo(setEverywhere(fixture, path, v)), `${path} = ${JSON.stringify(v)} is documented`);
    }
  }
  assert.deepEqual([...PARAM_KINDS].sort(), [...deref(schemas.ParamKind).enum].sort(), "an input for every ParamKind");
  assert.throws(() => parseInfo({ ...fixture, limits: undefined }), /limits/, "a missing limit is an error, not a guess");
});

// --- the parameter inputs made from the reference answer ---------------------------------------

const NOT_SAMPLING = new Set(["text", "session_id", "voice", "voice_prompt", "stream", "language"]);

function samplingSchema(mediaType) {
  const props = deref(openapi.paths["/synthesize"].post.requestBody.content[mediaType].schema).properties;
  return Object.fromEntries(Object.entries(props).filter(([k]) => !NOT_SAMPLING.has(k)));
}

const inputs = parseInfo(fixture).parameters.map((p) => ({ spec: p, input: paramInput(p) }));

test("the form exposes exactly the sampling fields of both request bodies", () => {
  const ui = inputs.map(({ input }) => input.name).sort();
  assert.deepEqual(ui, Object.keys(samplingSchema("multipart/form-data")).sort());
  assert.deepEqual(ui, Object.keys(samplingSchema("application/json")).sort());
});

test("defaults and bounds match the document", () => {
  const schema = samplingSchema("multipart/form-data");
  for (const { spec, input } of inputs) {
    const s = deref(schema[input.name]);
    if (s.default === undefined) {
      assert.equal(input.initial, "", `${input.name}: no documented default, so the field starts empty`);
    } else {
      assert.equal(Number(input.initial), s.default, `${input.name} default`);
    }
    assert.equal(input.step === "1", typesOf(s).has("integer"), `${input.name}: integer step iff integer type`);
    if (typeof s.exclusiveMinimum === "number") {
      assert.equal(input.min, s.exclusiveMinimum, `${input.name} exclusive minimum`);
      assert.ok(spec.min_exclusive, `${input.name}: the minimum itself is refused`);
    } else if (s.minimum !== undefined) {
      assert.equal(input.min, s.minimum, `${input.name} minimum`);
      assert.equal(spec.min_exclusive, s.exclusiveMinimum === true, `${input.name} exclusive minimum`);
    }
    if (s.maximum !== undefined) assert.equal(input.max, s.maximum, `${input.name} maximum`);
    else assert.ok(input.max >= 2 ** 63, `${input.name}: no documented maximum, so none below the u64 range`);
    assert.ok(input.label && input.help, `${input.name}: label and help text`);
  }
});

test("the reference's sampling defaults", () => {
  const d = Object.fromEntries(inputs.map(({ input }) => [input.name, input.initial]));
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
  const { ErrorResponse: err, SynthesizeResponse: ok } = schemas;
  assert.deepEqual(deref(err.properties.error).required.sort(), ["code", "message"]);
  for (const k of ["session_id", "play_url", "duration", "sample_rate", "voice", "timings"]) {
    assert.ok(ok.required.includes(k), `SynthesizeResponse.${k} is required`);
  }
  const timings = deref(ok.properties.timings);
  assert.ok(timings.properties.total_s);
  assert.ok(timings.properties.rtf);
  const play = openapi.paths["/play/{sid}"].get;
  assert.ok(play.parameters.some((p) => p.in === "header" && p.name === "Range"));
  assert.ok(play.responses["206"]);
});
