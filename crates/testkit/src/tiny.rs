//! A tiny random-weight checkpoint of the real architecture: every network at reduced widths and
//! depths (same code paths), the model files of one variant plus a `config.json`, so tests and
//! servers can run the whole pipeline here without the released weights. Both variants: the
//! original ([`write_tiny_checkpoint`]) and Chatterbox-Turbo ([`write_tiny_turbo_checkpoint`]:
//! a tiny GPT-2 T3, the meanflow S3Gen, a byte-level GPT-2 tokenizer with the paralinguistic tags).
//!
//! `cargo run --release --example tiny_checkpoint -- DIR [SEED] [--turbo]` writes one.

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
use chatterbox::models::t3::{Gpt2Config, LlamaConfig, T3Config, T3Turbo, T3TurboConfig, T3};
use chatterbox::models::voice_encoder::VoiceEncoderConfig;
use chatterbox::pipeline::{
    Chatterbox, ModelConfig, Variant, CANGJIE_FILE, CONDS_FILE, CONFIG_FILE, MTL_TOKENIZER_FILE,
    S3GEN_PT_FILE, SPECIAL_TOKENS_MAP_FILE, TOKENIZER_FILE, VE_FILE, VE_PT_FILE,
};
use chatterbox::text::{ADDED_TOKENS_FILE, MERGES_FILE, TOKENIZER_CONFIG_FILE, VOCAB_FILE};
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
        // Unused by the original model (see `turbo_config`).
        t3_turbo: T3TurboConfig::turbo(),
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

/// The tiny Chatterbox-Turbo: [`config`]'s networks with a GPT-2 T3 (width 64, 2 layers, 4 heads,
/// 4096 positions, the tiny tokenizer's 276 text ids) and the meanflow flow decoder (two steps).
pub fn turbo_config() -> ModelConfig {
    let mut cfg = config();
    let released = T3TurboConfig::turbo();
    cfg.t3_turbo = T3TurboConfig {
        text_tokens_dict_size: TINY_GPT2_VOCAB,
        gpt2: Gpt2Config {
            vocab_size: TINY_GPT2_VOCAB,
            n_positions: 4096,
            n_embd: 64,
            n_layer: 2,
            n_head: 4,
            n_inner: 128,
            ..released.gpt2.clone()
        },
        ..released
    };
    cfg.s3gen.flow.n_timesteps = 2;
    cfg.s3gen.flow.estimator.meanflow = true;
    cfg
}

/// The tiny Chatterbox Multilingual: [`config`]'s networks with the multilingual text vocabulary
/// (2454, which turns the alignment analyzer on) and aligned heads that exist in its two layers.
pub fn multilingual_config() -> ModelConfig {
    let mut cfg = config();
    cfg.t3.text_tokens_dict_size = chatterbox::models::t3::MULTILINGUAL_TEXT_VOCAB;
    cfg.t3.aligned_heads = vec![(1, 3), (1, 1), (0, 2)];
    cfg
}

/// The tiny configuration of `variant`.
pub fn config_for(variant: Variant) -> ModelConfig {
    match variant {
        Variant::Original => config(),
        Variant::Turbo => turbo_config(),
        Variant::Multilingual => multilingual_config(),
    }
}

/// Chatterbox-Turbo's paralinguistic tags (the added tokens of the released tokenizer, by the
/// third-party list in the reference notes).
pub const TURBO_TAGS: [&str; 19] = [
    "[laugh]",
    "[chuckle]",
    "[sigh]",
    "[gasp]",
    "[clear throat]",
    "[happy]",
    "[surprised]",
    "[whispering]",
    "[crying]",
    "[dramatic]",
    "[shush]",
    "[cough]",
    "[groan]",
    "[sniff]",
    "[angry]",
    "[fear]",
    "[sarcastic]",
    "[narration]",
    "[advertisement]",
];

/// Ids of the tiny GPT-2 tokenizer: 256 byte symbols, `<|endoftext|>`, the 19 tags.
pub const TINY_GPT2_VOCAB: usize = 256 + 1 + TURBO_TAGS.len();

/// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the others for
/// U+0100 upwards in byte order.
fn gpt2_byte_symbols() -> Vec<char> {
    let printable = |b: u32| {
        (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b)
    };
    let mut next = 0x100;
    (0u32..256)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).unwrap_or('?')
            } else {
                let c = char::from_u32(next).unwrap_or('?');
                next += 1;
                c
            }
        })
        .collect()
}

/// The files of a byte-level GPT-2 tokenizer in the released Turbo layout (`vocab.json`, an empty
/// `merges.txt`, `tokenizer_config.json` with the added tags, `added_tokens.json`,
/// `special_tokens_map.json`): every byte is one token, `<|endoftext|>` is 256, the tags 257–275.
pub fn tiny_gpt2_tokenizer_files() -> Vec<(&'static str, String)> {
    let mut vocab = serde_json::Map::new();
    for (i, c) in gpt2_byte_symbols().into_iter().enumerate() {
        vocab.insert(c.to_string(), i.into());
    }
    vocab.insert("<|endoftext|>".into(), 256.into());
    let mut decoder = serde_json::Map::new();
    decoder.insert(
        "256".into(),
        serde_json::json!({"content": "<|endoftext|>", "lstrip": false, "normalized": true,
            "rstrip": false, "single_word": false, "special": true}),
    );
    let mut added = serde_json::Map::new();
    for (i, t) in TURBO_TAGS.iter().enumerate() {
        let id = 257 + i;
        added.insert((*t).to_string(), id.into());
        decoder.insert(
            id.to_string(),
            serde_json::json!({"content": t, "lstrip": false, "normalized": true, "rstrip": false,
                "single_word": false, "special": false}),
        );
    }
    let eos = "<|endoftext|>";
    let config = serde_json::json!({
        "add_bos_token": false, "add_prefix_space": false, "added_tokens_decoder": decoder,
        "bos_token": eos, "eos_token": eos, "unk_token": eos, "clean_up_tokenization_spaces": false,
        "errors": "replace", "model_max_length": 1024, "tokenizer_class": "GPT2Tokenizer"
    });
    let special = serde_json::json!({"bos_token": eos, "eos_token": eos, "unk_token": eos});
    vec![
        (VOCAB_FILE, serde_json::Value::Object(vocab).to_string()),
        (MERGES_FILE, "#version: 0.2\n".to_string()),
        (TOKENIZER_CONFIG_FILE, config.to_string()),
        (
            ADDED_TOKENS_FILE,
            serde_json::Value::Object(added).to_string(),
        ),
        (SPECIAL_TOKENS_MAP_FILE, special.to_string()),
    ]
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

/// A character-level tokenizer in the multilingual file's format: [`tiny_tokenizer_json`]'s
/// symbols, then the 23 language tags, the Cangjie tokens `[cj_a]`…`[cj_z]`, `[cj_0]`…`[cj_9]`,
/// `[cj_.]` (added tokens from id 256), and a few letters of other scripts (the combining accents
/// NFKD leaves, Greek, Cyrillic).
pub fn tiny_mtl_tokenizer_json() -> String {
    let mut v: serde_json::Value = match serde_json::from_str(&tiny_tokenizer_json()) {
        Ok(v) => v,
        Err(_) => return String::new(),
    };
    let mut next = 256usize;
    let mut added_specials = Vec::new();
    let tags = chatterbox::text::LANGUAGES.map(|(c, _)| format!("[{c}]"));
    let cj = "abcdefghijklmnopqrstuvwxyz0123456789."
        .chars()
        .map(|c| format!("[cj_{c}]"));
    let letters = ('\u{300}'..='\u{36f}')
        .chain('\u{3b1}'..='\u{3c9}')
        .chain('\u{430}'..='\u{44f}')
        .map(String::from);
    if let Some(vocab) = v["model"]["vocab"].as_object_mut() {
        for t in tags.iter().cloned().chain(cj) {
            vocab.insert(t.clone(), next.into());
            added_specials.push(
                serde_json::json!({"id": next, "content": t, "single_word": false,
                "lstrip": false, "rstrip": false, "normalized": false, "special": true}),
            );
            next += 1;
        }
        for t in letters {
            vocab.insert(t, next.into());
            next += 1;
        }
    }
    if let Some(added) = v["added_tokens"].as_array_mut() {
        added.extend(added_specials);
    }
    v.to_string()
}

/// A tiny `Cangjie5_TC.json`: a few common characters with their Cangjie codes.
pub fn tiny_cangjie_json() -> String {
    serde_json::json!([
        "你\tonf",
        "好\tvnd",
        "世\tpt",
        "界\twol",
        "中\tl",
        "文\tyk",
        "我\thqi",
        "是\tamyo",
        "的\thaipi",
        "人\to",
        "大\tk",
        "天\tmk",
        "日\ta",
        "曰\ta"
    ])
    .to_string()
}

/// A voiced test clip at 24 kHz (harmonics of a gliding 120–160 Hz pitch): 3 s, or 6 s for Turbo
/// (which needs more than 5 s).
fn synthetic_voice(seconds: u32) -> Audio {
    let sr = S3GEN_SR as f32;
    let samples = (0..(seconds * S3GEN_SR) as usize)
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

/// Write a tiny Chatterbox-Turbo checkpoint to `dir`: the Turbo files (`t3_turbo_v1`,
/// `s3gen_meanflow`, `ve`, the GPT-2 tokenizer files), the built-in voice as `conds.safetensors`
/// and `config.json`.
pub fn write_tiny_turbo_checkpoint(dir: &Path, seed: u64) -> Result<()> {
    write_random_checkpoint(dir, &turbo_config(), seed)
}

/// The tiny checkpoint of `variant`.
pub fn write_tiny_variant_checkpoint(dir: &Path, variant: Variant, seed: u64) -> Result<()> {
    write_random_checkpoint(dir, &config_for(variant), seed)
}

/// Write a random-weight model directory at any configuration. The variant follows from the
/// configuration (a meanflow flow decoder is Turbo's); files of the other variant are removed so
/// the directory stays unambiguous. The released configuration gets no `config.json` (like the
/// released files); any other gets one.
pub fn write_random_checkpoint(dir: &Path, cfg: &ModelConfig, seed: u64) -> Result<()> {
    let variant = if cfg.s3gen.flow.estimator.meanflow {
        Variant::Turbo
    } else if cfg.t3.is_multilingual() {
        Variant::Multilingual
    } else {
        Variant::Original
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    for other in Variant::ALL.into_iter().filter(|&v| v != variant) {
        for f in [other.t3_file(), other.s3gen_file()] {
            let _ = std::fs::remove_file(dir.join(f));
        }
    }
    // The writer makes safetensors only: a stale `.pt` would be read first.
    for f in [VE_PT_FILE, S3GEN_PT_FILE] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let cfg_path = dir.join(CONFIG_FILE);
    if *cfg == ModelConfig::released(variant) {
        let _ = std::fs::remove_file(&cfg_path);
    } else {
        let json = serde_json::to_string_pretty(cfg)
            .map_err(|e| Error::InvalidArgument(format!("config: {e}")))?;
        std::fs::write(&cfg_path, json).map_err(|e| Error::io("writing config.json", e))?;
    }

    let t3 = RandomWeights::new(seed.wrapping_mul(3) + 1);
    match variant {
        Variant::Original | Variant::Multilingual => drop(T3::new(&cfg.t3, &t3.var_builder())?),
        Variant::Turbo => drop(T3Turbo::new(&cfg.t3_turbo, &t3.var_builder())?),
    }
    t3.save(&dir.join(variant.t3_file()))?;
    drop(t3);

    let ve = RandomWeights::new(seed.wrapping_mul(3) + 2);
    let s3 = RandomWeights::new(seed.wrapping_mul(3) + 3);
    S3Gen::new(&cfg.s3gen, &s3.var_builder())?;
    ConditioningModels::load(ve.var_builder(), s3.var_builder(), cfg.conditioning)?;
    // Safetensors for every variant (Multilingual reads them when its `.pt` files are absent).
    let safetensors = |files: &[&'static str]| {
        files
            .iter()
            .copied()
            .find(|f| f.ends_with(".safetensors"))
            .unwrap_or(VE_FILE)
    };
    ve.save(&dir.join(safetensors(variant.ve_files())))?;
    s3.save(&dir.join(safetensors(variant.s3gen_files())))?;
    drop((ve, s3));

    let files = match variant {
        Variant::Original => vec![(TOKENIZER_FILE, tiny_tokenizer_json())],
        Variant::Turbo => tiny_gpt2_tokenizer_files(),
        Variant::Multilingual => vec![
            (MTL_TOKENIZER_FILE, tiny_mtl_tokenizer_json()),
            (CANGJIE_FILE, tiny_cangjie_json()),
        ],
    };
    for (name, text) in files {
        std::fs::write(dir.join(name), text)
            .map_err(|e| Error::io(format!("writing {name}"), e))?;
    }

    // The built-in voice, made by the model itself from a synthetic clip.
    let _ = std::fs::remove_file(dir.join(CONDS_FILE));
    let model = Chatterbox::load_variant_with(dir, Some(variant), &Default::default())?;
    let seconds = match variant {
        Variant::Original | Variant::Multilingual => 3,
        Variant::Turbo => 6,
    };
    let voice = model.prepare_conditionals(&synthetic_voice(seconds), 0.5)?;
    voice.save(&dir.join(CONDS_FILE))
}
