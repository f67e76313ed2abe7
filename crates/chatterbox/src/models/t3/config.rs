//! `T3Config`: the released English configuration and reduced ones for tests (serde, so a small
//! checkpoint can carry its own config file).

use serde::{Deserialize, Serialize};

/// `rope_scaling` of type `llama3` (Llama 3.1 frequency-dependent scaling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Llama3RopeScaling {
    pub factor: f32,
    pub low_freq_factor: f32,
    pub high_freq_factor: f32,
    pub original_max_position_embeddings: usize,
}

/// The Llama backbone (HF `LlamaConfig` fields that matter; no biases, plain MHA, SiLU MLP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Rows of `tfmr.embed_tokens` (unused: the backbone is driven by input embeddings).
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f32,
    /// `None` = plain RoPE.
    pub rope_scaling: Option<Llama3RopeScaling>,
}

impl LlamaConfig {
    /// `Llama_520M` as released.
    pub fn llama_520m() -> Self {
        Self {
            vocab_size: 8,
            hidden_size: 1024,
            intermediate_size: 4096,
            num_hidden_layers: 30,
            num_attention_heads: 16,
            head_dim: 64,
            rms_norm_eps: 1e-5,
            rope_theta: 500_000.0,
            rope_scaling: Some(Llama3RopeScaling {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 8192,
            }),
        }
    }
}

/// T3 hyper-parameters (`chatterbox.models.t3.modules.t3_config.T3Config` + the Llama config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct T3Config {
    pub text_tokens_dict_size: usize,
    pub speech_tokens_dict_size: usize,
    pub start_text_token: u32,
    pub stop_text_token: u32,
    pub start_speech_token: u32,
    pub stop_speech_token: u32,
    /// The text position table has `max_text_tokens + 2` rows.
    pub max_text_tokens: usize,
    /// The speech position table has `max_speech_tokens + 4` rows.
    pub max_speech_tokens: usize,
    pub speaker_embed_size: usize,
    /// Perceiver resampler: learned queries and attention heads (width = hidden size).
    pub perceiver_queries: usize,
    pub perceiver_heads: usize,
    pub llama: LlamaConfig,
    /// The (layer, head) pairs whose attention the multilingual alignment analyzer reads
    /// (`LLAMA_ALIGNED_HEADS`); only used by a multilingual T3 ([`T3Config::is_multilingual`]).
    #[serde(default = "default_aligned_heads")]
    pub aligned_heads: Vec<(usize, usize)>,
}

fn default_aligned_heads() -> Vec<(usize, usize)> {
    super::alignment::LLAMA_ALIGNED_HEADS.to_vec()
}

/// Text vocabulary of the multilingual T3 (`grapheme_mtl_merged_expanded_v1.json`).
pub const MULTILINGUAL_TEXT_VOCAB: usize = 2454;

impl T3Config {
    /// The released English model (`t3_cfg.safetensors`).
    pub fn english() -> Self {
        Self {
            text_tokens_dict_size: 704,
            speech_tokens_dict_size: 8194,
            start_text_token: 255,
            stop_text_token: 0,
            start_speech_token: 6561,
            stop_speech_token: 6562,
            max_text_tokens: 2048,
            max_speech_tokens: 4096,
            speaker_embed_size: 256,
            perceiver_queries: 32,
            perceiver_heads: 4,
            llama: LlamaConfig::llama_520m(),
            aligned_heads: default_aligned_heads(),
        }
    }

    /// The released multilingual model (`t3_mtl23ls_v2.safetensors`): the English config with a
    /// 2454-token text vocabulary.
    pub fn multilingual() -> Self {
        Self {
            text_tokens_dict_size: MULTILINGUAL_TEXT_VOCAB,
            ..Self::english()
        }
    }

    /// `T3Config.is_multilingual` of the reference: the text vocabulary is 2454 tokens. Such a T3
    /// runs the alignment stream analyzer while it generates.
    pub fn is_multilingual(&self) -> bool {
        self.text_tokens_dict_size == MULTILINGUAL_TEXT_VOCAB
    }

    pub fn hidden_size(&self) -> usize {
        self.llama.hidden_size
    }

    /// Rows of `text_pos_emb.emb` (2050 released).
    pub fn text_pos_len(&self) -> usize {
        self.max_text_tokens + 2
    }

    /// Rows of `speech_pos_emb.emb` (4100 released).
    pub fn speech_pos_len(&self) -> usize {
        self.max_speech_tokens + 4
    }
}

impl Default for T3Config {
    fn default() -> Self {
        Self::english()
    }
}
