//! A tiny random-weight checkpoint of the real architecture: every network at reduced widths and
//! depths (same code paths), the five model files plus a `config.json`, so tests and servers can
//! run the whole pipeline here without the released weights.
//!
//! `cargo run --release --example tiny_checkpoint -- DIR [SEED]` writes one.

use std::path::Path;

use crate::random_weights::RandomWeights;
use crate::{Error, Result};
use chatterbox::audio::Audio;
use chatterbox::conditioning::{ConditioningConfig, ConditioningModels};
use chatterbox::models::campplus::CampPlusConfig;
use chatterbox::models::s3gen::{
    EncoderConfig as FlowEncoderConfig, EstimatorConfig, FlowConfig, HiftConfig, S3Gen, S3GenConfig,
};
use chatterbox::models::s3tokenizer::EncoderConfig as TokenizerConfig;
use chatterbox::models::t3::{LlamaConfig, T3Config, T3};
use chatterbox::models::voice_encoder::VoiceEncoderConfig;
use chatterbox::pipeline::{
    Chatterbox, ModelConfig, CONDS_FILE, CONFIG_FILE, S3GEN_FILE, T3_FILE, TOKENIZER_FILE, VE_FILE,
};
use chatterbox::S3GEN_SR;

/// The reduced sizes of the tiny checkpoint — the one tiny config of the project. Interfaces
/// between networks keep their released widths (speaker embedding 256, x-vector 192, 80 mel bins,
/// 6561 speech tokens, the special token ids), so the pipeline code is exactly the released one.
pub fn config() -> ModelConfig {
    let released = T3Config::english();
    ModelConfig {
        t3: T3Config {
            perceiver_queries: 8,
            llama: LlamaConfig {
                hidden_size: 64,
                intermediate_size: 128,
                num_hidden_layers: 2,
                num_attention_heads: 4,
                head_dim: 16,
                ..released.llama.clone()
            },
            ..released
        },
        s3gen: S3GenConfig {
            flow: FlowConfig {
                input_size: 32,
                encoder: FlowEncoderConfig {
                    dim: 32,
                    heads: 2,
                    ff: 48,
                    blocks: 2,
                    up_blocks: 2,
                    ..FlowEncoderConfig::default()
                },
                estimator: EstimatorConfig {
                    channels: 32,
                    heads: 2,
                    head_dim: 16,
                    n_blocks: 1,
                    mid_blocks: 1,
                    ..EstimatorConfig::default()
                },
                ..FlowConfig::default()
            },
            hift: HiftConfig {
                base_channels: 32,
                f0_channels: 32,
                ..HiftConfig::default()
            },
        },
        conditioning: ConditioningConfig {
            tokenizer: TokenizerConfig {
                n_state: 128,
                n_head: 2,
                n_layer: 1,
                ..TokenizerConfig::default()
            },
            voice_encoder: VoiceEncoderConfig {
                hidden: 64,
                ..VoiceEncoderConfig::default()
            },
            campplus: CampPlusConfig {
                growth_rate: 8,
                bn_size: 2,
                init_channels: 32,
                ..CampPlusConfig::default()
            },
        },
    }
}

/// A character-level `tokenizer.json` in the released file's format (BPE model, `[UNK]`,
/// Whitespace pre-tokenizer, no normaliser/post-processor; `[STOP]`=0, `[UNK]`=1, `[SPACE]`=2,
/// printable ASCII from 3, `[START]`=255).
pub fn tiny_tokenizer_json() -> String {
    let mut vocab = serde_json::Map::new();
    for (i, t) in ["[STOP]", "[UNK]", "[SPACE]"].iter().enumerate() {
        vocab.insert((*t).to_string(), i.into());
    }
    for (i, c) in (b'!'..=b'~').enumerate() {
        vocab.insert((c as char).to_string(), (i + 3).into());
    }
    let specials = [
        ("[STOP]", 0),
        ("[UNK]", 1),
        ("[SPACE]", 2),
        ("[START]", 255),
    ];
    for (t, id) in specials {
        vocab.insert(t.to_string(), id.into());
    }
    let added: Vec<serde_json::Value> = specials
        .iter()
        .map(|(t, id)| {
            serde_json::json!({"id": id, "content": t, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "BPE", "dropout": null, "unk_token": "[UNK]",
            "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
            "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": []}
    })
    .to_string()
}

/// A 3 s voiced test clip at 24 kHz (harmonics of a gliding 120–160 Hz pitch).
fn synthetic_voice() -> Audio {
    let sr = S3GEN_SR as f32;
    let samples = (0..(3 * S3GEN_SR) as usize)
        .map(|i| {
            let t = i as f32 / sr;
            let f0 = 140.0 + 20.0 * (2.0 * std::f32::consts::PI * 0.7 * t).sin();
            let env = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 4.0 * t).sin();
            (1..6)
                .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                .sum::<f32>()
                * 0.2
                * env
        })
        .collect();
    Audio {
        samples,
        sample_rate: S3GEN_SR,
    }
}

/// Write a tiny checkpoint to `dir`: the five files of a released model directory (with the
/// built-in voice as `conds.safetensors`) and `config.json`.
pub fn write_tiny_checkpoint(dir: &Path, seed: u64) -> Result<()> {
    write_random_checkpoint(dir, &config(), seed)
}

/// Write a random-weight model directory at any configuration. The released configuration gets no
/// `config.json` (like the released files); any other gets one.
pub fn write_random_checkpoint(dir: &Path, cfg: &ModelConfig, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let cfg_path = dir.join(CONFIG_FILE);
    if *cfg == ModelConfig::default() {
        let _ = std::fs::remove_file(&cfg_path);
    } else {
        let json = serde_json::to_string_pretty(cfg)
            .map_err(|e| Error::InvalidArgument(format!("config: {e}")))?;
        std::fs::write(&cfg_path, json).map_err(|e| Error::io("writing config.json", e))?;
    }

    let t3 = RandomWeights::new(seed.wrapping_mul(3) + 1);
    T3::new(&cfg.t3, &t3.var_builder())?;
    t3.save(&dir.join(T3_FILE))?;
    drop(t3);

    let ve = RandomWeights::new(seed.wrapping_mul(3) + 2);
    let s3 = RandomWeights::new(seed.wrapping_mul(3) + 3);
    S3Gen::new(&cfg.s3gen, &s3.var_builder())?;
    ConditioningModels::load(ve.var_builder(), s3.var_builder(), cfg.conditioning)?;
    ve.save(&dir.join(VE_FILE))?;
    s3.save(&dir.join(S3GEN_FILE))?;
    drop((ve, s3));

    std::fs::write(dir.join(TOKENIZER_FILE), tiny_tokenizer_json())
        .map_err(|e| Error::io("writing tokenizer.json", e))?;

    // The built-in voice, made by the model itself from a synthetic clip.
    let _ = std::fs::remove_file(dir.join(CONDS_FILE));
    let model = Chatterbox::load(dir)?;
    let voice = model.prepare_conditionals(&synthetic_voice(), 0.5)?;
    voice.save(&dir.join(CONDS_FILE))
}
