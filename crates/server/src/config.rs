//! Configuration from CLI flags and `CHATTERBOX_*` environment variables.

use clap::{Parser, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

/// An API key: never printed (`Debug` shows `***`) nor serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(pub String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl std::str::FromStr for ApiKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(Self(s.trim().to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// chatterbox-rs HTTP text-to-speech service.
#[derive(Debug, Clone, Parser, Serialize)]
#[command(name = "chatterbox-server", version, about)]
pub struct Config {
    /// Address to bind.
    #[arg(long, env = "CHATTERBOX_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to bind.
    #[arg(long, env = "CHATTERBOX_PORT", default_value_t = 7860)]
    pub port: u16,
    /// Directory with ve.safetensors, t3_cfg.safetensors, s3gen.safetensors, tokenizer.json and
    /// conds.pt. Without it the model is downloaded from the Hugging Face hub
    /// (ResembleAI/chatterbox) into the standard cache.
    #[arg(long, env = "CHATTERBOX_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Which model: `original`, `turbo` (Chatterbox-Turbo) or `multilingual` (Chatterbox
    /// Multilingual, 23 languages). Without it the variant is detected
    /// from the model directory's files (original when downloading from the hub).
    #[arg(long = "model", env = "CHATTERBOX_MODEL")]
    pub model: Option<chatterbox::Variant>,
    /// Where session WAVs and their metadata live.
    #[arg(long, env = "CHATTERBOX_OUT_DIR", default_value = "out")]
    pub out_dir: PathBuf,
    /// Synthesis worker threads (each runs one request at a time on the shared model).
    #[arg(long, env = "CHATTERBOX_WORKERS", default_value_t = 1)]
    pub workers: usize,
    /// CPU threads candle uses inside one synthesis (0 = all physical cores).
    #[arg(long, env = "CHATTERBOX_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// HTTP worker threads (they never run the model).
    #[arg(long, env = "CHATTERBOX_HTTP_WORKERS", default_value_t = 2)]
    pub http_workers: usize,
    /// Longest accepted text, in characters (long texts are spoken chunk by chunk).
    #[arg(long, env = "CHATTERBOX_MAX_TEXT_CHARS", default_value_t = 20_000)]
    pub max_text_chars: usize,
    /// Longest chunk a text is cut into, in characters (sentences, long ones at clauses; see
    /// README). 0: no limit (one chunk per sentence).
    #[arg(long, env = "CHATTERBOX_MAX_CHUNK_CHARS", default_value_t = chatterbox::ChunkOptions::DEFAULT_MAX_CHARS)]
    pub max_chunk_chars: usize,
    /// Sentences shorter than this are spoken together with the next one, in characters.
    #[arg(long, env = "CHATTERBOX_MIN_CHUNK_CHARS", default_value_t = chatterbox::ChunkOptions::DEFAULT_MIN_CHARS)]
    pub min_chunk_chars: usize,
    /// Largest accepted voice upload, in bytes (rejected while streaming).
    #[arg(long, env = "CHATTERBOX_MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// Shortest accepted voice clip, in seconds.
    #[arg(long, env = "CHATTERBOX_MIN_VOICE_SECONDS", default_value_t = 1.0)]
    pub min_voice_seconds: f64,
    /// Longest accepted voice clip, in seconds (only the first 10 s are used).
    #[arg(long, env = "CHATTERBOX_MAX_VOICE_SECONDS", default_value_t = 60.0)]
    pub max_voice_seconds: f64,
    /// Requests waiting for a worker beyond which new ones get 429.
    #[arg(long, env = "CHATTERBOX_MAX_QUEUE", default_value_t = 8)]
    pub max_queue: usize,
    /// Seconds a synthesis may take (queueing included) before it is cancelled with 504.
    #[arg(
        long,
        env = "CHATTERBOX_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 300
    )]
    pub request_timeout_seconds: u64,
    /// Exact origins allowed by CORS, comma separated (none by default).
    #[arg(long, env = "CHATTERBOX_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// How often the cleanup task runs, in seconds.
    #[arg(
        long,
        env = "CHATTERBOX_CLEANUP_INTERVAL_SECONDS",
        default_value_t = 3600
    )]
    pub cleanup_interval_seconds: u64,
    /// Sessions untouched for longer than this are deleted by the cleanup task, in seconds.
    #[arg(long, env = "CHATTERBOX_MAX_AGE_SECONDS", default_value_t = 3600)]
    pub max_age_seconds: u64,
    /// Precision of T3's backbone weights: `none` (f32, the reference's arithmetic), `q8` or `q4`
    /// (quantized at load: less memory, faster decoding; fidelity in docs/performance.md).
    #[arg(long, env = "CHATTERBOX_QUANTIZE", default_value = "none")]
    pub quantize: chatterbox::Quantization,
    /// Log format.
    #[arg(long, env = "CHATTERBOX_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// API keys, comma separated: when any is set (here or in --api-keys-file), every path but
    /// --public-paths needs one, as `Authorization: Bearer KEY` or `x-api-key: KEY`.
    #[arg(
        long,
        env = "CHATTERBOX_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    #[serde(skip)]
    pub api_keys: Vec<ApiKey>,
    /// A file of API keys, one per line (blank lines and `#` comments ignored).
    #[arg(long, env = "CHATTERBOX_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// Requests a client (its key, or its IP without keys) may make per minute (0 = no limit);
    /// over it: 429 with Retry-After.
    #[arg(long, env = "CHATTERBOX_RATE_LIMIT_PER_MINUTE", default_value_t = 0)]
    pub rate_limit_per_minute: u32,
    /// Requests a client may make at once before the per-minute rate applies (0 = the
    /// per-minute figure).
    #[arg(long, env = "CHATTERBOX_RATE_LIMIT_BURST", default_value_t = 0)]
    pub rate_limit_burst: u32,
    /// Normalise the audio of `/v1/audio/speech` and `/tts` to this integrated loudness (EBU R128 /
    /// BS.1770, e.g. -16 or -23 LUFS; sample peak kept under -1 dBFS). Off by default.
    #[arg(long, env = "CHATTERBOX_LOUDNESS_LUFS", allow_hyphen_values = true)]
    pub loudness_lufs: Option<f64>,
    /// Streamed requests (`stream: true`) stream within sentences: S3Gen first runs after this
    /// many speech tokens of the first chunk, then every --stream-chunk-tokens, so audio leaves
    /// while T3 still decodes (the audio differs slightly from the whole-sentence output that
    /// requests without `stream` get, and costs more compute, see README). 0: off (streamed
    /// requests leave chunk by chunk, the same audio as without `stream`).
    #[arg(long, env = "CHATTERBOX_STREAM_FIRST_TOKENS", default_value_t = chatterbox::pipeline::StreamOptions::FIRST_TOKENS)]
    pub stream_first_tokens: usize,
    /// Speech tokens per later piece when streaming within sentences.
    #[arg(long, env = "CHATTERBOX_STREAM_CHUNK_TOKENS", default_value_t = 50)]
    pub stream_chunk_tokens: usize,
    /// Chunks of a long text streamed within themselves, from the first (0: all); the rest are
    /// spoken whole, as without streaming.
    #[arg(long, env = "CHATTERBOX_STREAM_CHUNKS", default_value_t = 1)]
    pub stream_chunks: usize,
    /// Prompt tokens each streamed piece conditions on (the last ones of the voice's prompt,
    /// 25 a second); fewer make each piece cheaper. 0: the whole prompt (up to 10 s).
    #[arg(long, env = "CHATTERBOX_STREAM_PROMPT_TOKENS", default_value_t = 0)]
    pub stream_prompt_tokens: usize,
    /// A JSON file of voice aliases for `POST /tts` (`{"en-US-JennyNeural": "alice"}`).
    #[arg(long, env = "CHATTERBOX_VOICE_ALIASES")]
    pub voice_aliases: Option<PathBuf>,
    /// Paths open without a key and without a rate limit, comma separated.
    #[arg(
        long,
        env = "CHATTERBOX_PUBLIC_PATHS",
        value_delimiter = ',',
        default_value = "/health,/livez,/metrics"
    )]
    pub public_paths: Vec<String>,
}

impl Config {
    /// How texts are cut into chunks.
    pub fn chunking(&self) -> chatterbox::ChunkOptions {
        chatterbox::ChunkOptions {
            max_chars: self.max_chunk_chars,
            min_chars: self.min_chunk_chars,
        }
    }

    /// How streamed requests stream within sentences; `None` when `--stream-first-tokens 0`
    /// turns it off.
    pub fn stream_options(&self) -> Option<chatterbox::pipeline::StreamOptions> {
        (self.stream_first_tokens > 0).then(|| chatterbox::pipeline::StreamOptions {
            first_tokens: self.stream_first_tokens,
            chunk_tokens: self.stream_chunk_tokens,
            prompt_tokens: self.stream_prompt_tokens,
            chunks: self.stream_chunks,
            ..Default::default()
        })
    }

    pub fn bind_addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Reject settings that cannot work, with a message naming the flag.
    /// The model variant this server runs (resolved once at start, see [`Config::resolve_model`]).
    pub fn variant(&self) -> chatterbox::Variant {
        self.model.unwrap_or_default()
    }

    /// Fill in `model` from the model directory's files when the flag was not given.
    pub fn resolve_model(&mut self) {
        if self.model.is_none() {
            self.model = Some(match &self.model_dir {
                Some(dir) => chatterbox::Variant::detect(dir).unwrap_or_default(),
                None => chatterbox::Variant::Original,
            });
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("--workers", self.workers),
            ("--http-workers", self.http_workers),
            ("--max-text-chars", self.max_text_chars),
            ("--max-upload-bytes", self.max_upload_bytes),
            (
                "--request-timeout-seconds",
                self.request_timeout_seconds as usize,
            ),
            (
                "--cleanup-interval-seconds",
                self.cleanup_interval_seconds as usize,
            ),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        if let Some(l) = self.loudness_lufs {
            if !(-70.0..=0.0).contains(&l) {
                return Err("--loudness-lufs must be from -70 to 0".into());
            }
        }
        if let Some(stream) = self.stream_options() {
            stream
                .validate()
                .map_err(|e| format!("--stream-*-tokens: {e}"))?;
        }
        if !(self.min_voice_seconds >= 0.0 && self.max_voice_seconds > self.min_voice_seconds) {
            return Err("--max-voice-seconds must exceed --min-voice-seconds".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_show_in_the_logged_config() {
        let c = Config::parse_from(["x", "--api-keys", "sekrit-1,sekrit-2"]);
        assert_eq!(c.api_keys.len(), 2);
        assert_eq!(c.api_keys[1].0, "sekrit-2");
        let logged = serde_json::to_string(&c).unwrap_or_default();
        assert!(!logged.is_empty() && !logged.contains("sekrit"), "{logged}");
        assert!(!format!("{c:?}").contains("sekrit"));
        assert_eq!(c.public_paths, ["/health", "/livez", "/metrics"]);
        let c = Config::parse_from(["x", "--loudness-lufs", "-16"]);
        assert_eq!(c.loudness_lufs, Some(-16.0));
        assert!(c.validate().is_ok());
        let c = Config::parse_from(["x", "--loudness-lufs", "3"]);
        assert!(c.validate().is_err());
    }
}
