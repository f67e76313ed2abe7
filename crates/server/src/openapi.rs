//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` attributes and the types
//! they exchange. `docs/openapi.json` is a committed copy; `tests/api/openapi.rs` fails when it
//! differs and tells how to regenerate it.
//!
//! The two `/synthesize` request bodies are written with utoipa's schema builders because their
//! parameters come from `GenerateParams::SPECS` (names, kinds, defaults, ranges, descriptions).

use chatterbox::{GenerateParams, ParamKind};
use std::borrow::Cow;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, Object, ObjectBuilder, SchemaFormat, Type,
};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use crate::request::{MAX_FIELD_BYTES, STREAM_FIELD, TEXT_FIELDS, VOICE_PROMPT};
use crate::routes;
use crate::voices::DEFAULT_VOICE;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "chatterbox-rs",
        description = "Text-to-speech with voice cloning (Resemble AI Chatterbox in Rust/candle). \
                       Errors are always {\"error\": {\"code\", \"message\"}} (OpenAI's shape \
                       under /v1); every response carries an x-request-id header. With API keys \
                       configured, every path but the public ones (/health, /livez, /metrics by \
                       default) answers 401 unauthorized without a valid key, and a client over its \
                       rate limit gets 429 rate_limited with Retry-After."
    ),
    paths(
        routes::synthesize::synthesize,
        routes::play::play,
        routes::sessions::delete,
        routes::sessions::session,
        routes::voices::list,
        routes::voices::create,
        routes::voices::get_voice,
        routes::voices::get_clip,
        routes::voices::delete_voice,
        routes::openai::create_speech,
        routes::openai::list_models,
        routes::openai::list_voices,
        routes::tts::tts,
        routes::vc::convert,
        routes::health::health,
        routes::health::livez,
        routes::info::info,
        routes::metrics::metrics,
        routes::openapi::openapi,
    ),
    components(schemas(
        crate::error::ErrorResponse,
        SynthesizeJson,
        SynthesizeForm,
        routes::synthesize::SynthesizeResponse,
        crate::sessions::SessionMeta,
        routes::info::Info,
        routes::info::ParamSpec,
        routes::info::Language,
        crate::library::VoiceInfo,
        routes::voices::VoiceList,
        routes::voices::VoiceDeleted,
        routes::voices::CreateVoiceForm,
        routes::openai::SpeechRequest,
        routes::openai::OpenAiErrorResponse,
        routes::openai::ModelList,
        routes::openai::VoiceNames,
        routes::tts::TtsRequest,
        routes::vc::ConvertForm,
    ))
)]
pub struct ApiDoc;

/// The document as served and committed: pretty JSON with a final newline.
pub fn json() -> String {
    let doc = ApiDoc::openapi();
    let mut s = doc
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// Route patterns the document lists (as actix's `match_pattern` spells them).
pub fn route_patterns() -> Vec<String> {
    ApiDoc::openapi().paths.paths.keys().cloned().collect()
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// One generation parameter, from its spec.
fn param_schema(spec: &chatterbox::ParamSpec) -> Object {
    let number = |v: f64| match spec.kind {
        ParamKind::Float => serde_json::Value::from(v),
        ParamKind::Integer => serde_json::Value::from(v as u64),
    };
    let b = ObjectBuilder::new()
        .title(Some(spec.label))
        .description(Some(spec.description))
        .default(spec.default.map(number));
    let b = match spec.kind {
        ParamKind::Float => b.schema_type(Type::Number).maximum(Some(spec.max)),
        ParamKind::Integer => b.schema_type(Type::Integer).maximum(Some(spec.max as u64)),
    };
    let b = match (spec.kind, spec.min_exclusive) {
        (ParamKind::Float, false) => b.minimum(Some(spec.min)),
        (ParamKind::Float, true) => b.exclusive_minimum(Some(spec.min)),
        (ParamKind::Integer, false) => b.minimum(Some(spec.min as u64)),
        (ParamKind::Integer, true) => b.exclusive_minimum(Some(spec.min as u64)),
    };
    b.build()
}

/// The fields both request bodies share, then every generation parameter.
fn request_schema(upload: bool) -> Object {
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
        .required(TEXT_FIELDS[0])
        .property(
            TEXT_FIELDS[0],
            string().description(Some(format!(
                "What to say (not empty; at most the server's max_text_chars characters, see \
                 /info; a body or field may take 6 bytes per character, at least \
                 {MAX_FIELD_BYTES} bytes). Long texts are spoken chunk by chunk (sentences; long \
                 ones cut at clauses) and joined with natural pauses"
            ))),
        )
        .property(
            TEXT_FIELDS[1],
            string()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                .description(Some(
                    "An existing session to continue (and whose uploaded voice to reuse); \
                     omitted: a new session",
                )),
        )
        .property(
            TEXT_FIELDS[2],
            string().description(Some(format!(
                "A named voice: `{DEFAULT_VOICE}` (the built-in one) or a saved voice (GET \
                 /voices); unknown names give 404 voice_not_found"
            ))),
        )
        .property(
            TEXT_FIELDS[3],
            string().description(Some(
                "The language of the text, an ISO 639-1 code (case-insensitive) from /info's \
                 `languages`: 23 for the multilingual model, `en` only for the English ones; \
                 omitted or empty: English. Others give 400 unsupported_language",
            )),
        )
        .property(
            STREAM_FIELD,
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .default(Some(false.into()))
                .description(Some(
                    "Answer with chunked audio/wav as it is produced (a WAV header with unknown \
                     sizes, then 16-bit PCM; the session in the x-session-id header) instead of \
                     JSON; the finished audio is stored for /play all the same. In a form: \
                     true/false, 1/0 or on/off",
                )),
        );
    if upload {
        b = b.property(
            VOICE_PROMPT,
            string()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                .description(Some(
                    "Voice to clone: wav, mp3, ogg/vorbis or flac; any rate; within the \
                     server's min/max_voice_seconds (the first 10 s are used)",
                )),
        );
    }
    for spec in &GenerateParams::SPECS {
        b = b.property(spec.name, param_schema(spec));
    }
    b.build()
}

/// Raw audio in a response body.
pub struct AudioBytes;

impl PartialSchema for AudioBytes {
    fn schema() -> RefOr<Schema> {
        Schema::Object(
            string()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                .build(),
        )
        .into()
    }
}

impl ToSchema for AudioBytes {}

/// `POST /synthesize` as `application/json`.
pub struct SynthesizeJson;

impl PartialSchema for SynthesizeJson {
    fn schema() -> RefOr<Schema> {
        Schema::Object(request_schema(false)).into()
    }
}

impl ToSchema for SynthesizeJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SynthesizeJson")
    }
}

/// `POST /synthesize` as `multipart/form-data` (the only way to upload a voice).
pub struct SynthesizeForm;

impl PartialSchema for SynthesizeForm {
    fn schema() -> RefOr<Schema> {
        Schema::Object(request_schema(true)).into()
    }
}

impl ToSchema for SynthesizeForm {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SynthesizeForm")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_schemas_come_from_the_spec_table() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let props = &doc["components"]["schemas"]["SynthesizeJson"]["properties"];
        assert_eq!(props["temperature"]["default"], 0.8);
        assert_eq!(props["temperature"]["maximum"], 5.0);
        assert_eq!(props["top_p"]["exclusiveMinimum"], 0.0);
        assert_eq!(props["max_new_tokens"]["type"], "integer");
        assert_eq!(props["max_new_tokens"]["default"], 1000);
        assert!(props["seed"]["default"].is_null());
        for spec in GenerateParams::SPECS {
            assert!(props[spec.name].is_object(), "{}", spec.name);
        }
        let form = &doc["components"]["schemas"]["SynthesizeForm"]["properties"];
        assert_eq!(form["voice_prompt"]["format"], "binary");
        assert!(props["voice_prompt"].is_null());
    }
}
