//! Chatterbox-Turbo's text tokenizer: GPT-2's byte-level BPE as transformers' `AutoTokenizer`
//! builds it from a model directory (`vocab.json` + `merges.txt`, the added tokens of
//! `tokenizer_config.json` / `added_tokens.json`), through the `tokenizers` crate. ByteLevel
//! pre-tokenizer without a prefix space, no normaliser, no post-processor: no BOS/EOS and no
//! SOT/EOT are added. The paralinguistic tags (`[laugh]`, `[cough]`, …) are added tokens, matched
//! in the raw text with their own `lstrip`/`rstrip` flags. The input is truncated to
//! `model_max_length` when the config sets one (`truncation=True` upstream).

use std::collections::BTreeMap;
use std::path::Path;

use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::AddedToken;

use crate::{Error, Result};

pub const VOCAB_FILE: &str = "vocab.json";
pub const MERGES_FILE: &str = "merges.txt";
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
pub const ADDED_TOKENS_FILE: &str = "added_tokens.json";

/// The GPT-2 byte-level BPE of Chatterbox-Turbo.
#[derive(Clone)]
pub struct Gpt2Tokenizer {
    inner: tokenizers::Tokenizer,
    max_len: Option<usize>,
}

impl std::fmt::Debug for Gpt2Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpt2Tokenizer")
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

/// One entry of `added_tokens_decoder` (HF `AddedToken` fields).
#[derive(serde::Deserialize)]
struct AddedTokenJson {
    content: String,
    #[serde(default)]
    lstrip: bool,
    #[serde(default)]
    rstrip: bool,
    #[serde(default = "yes")]
    normalized: bool,
    #[serde(default)]
    single_word: bool,
    #[serde(default)]
    special: bool,
}

fn yes() -> bool {
    true
}

#[derive(serde::Deserialize, Default)]
struct TokenizerConfigJson {
    #[serde(default)]
    added_tokens_decoder: BTreeMap<String, AddedTokenJson>,
    #[serde(default)]
    model_max_length: Option<f64>,
    #[serde(default)]
    add_prefix_space: Option<bool>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))
}

impl Gpt2Tokenizer {
    /// Whether `dir` holds the files of this tokenizer (`vocab.json` and `merges.txt`).
    pub fn present_in(dir: &Path) -> bool {
        dir.join(VOCAB_FILE).is_file() && dir.join(MERGES_FILE).is_file()
    }

    /// Build from a model directory: `vocab.json`, `merges.txt`, and when present
    /// `tokenizer_config.json` (`added_tokens_decoder` with each token's flags,
    /// `model_max_length`, `add_prefix_space`) and `added_tokens.json` (content → id; tokens it
    /// lists that the config does not describe get the default flags). Every added token must get
    /// the id its file gives it.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path_str = |name: &str| -> Result<String> {
            let p = dir.join(name);
            if !p.is_file() {
                return Err(Error::Tokenizer(format!("{} not found", p.display())));
            }
            p.to_str()
                .map(str::to_string)
                .ok_or_else(|| Error::Tokenizer(format!("{} is not UTF-8", p.display())))
        };
        let bpe = BPE::from_file(&path_str(VOCAB_FILE)?, &path_str(MERGES_FILE)?)
            .build()
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", dir.display())))?;
        let cfg: TokenizerConfigJson =
            read_json(&dir.join(TOKENIZER_CONFIG_FILE))?.unwrap_or_default();
        let extra: BTreeMap<String, u32> =
            read_json(&dir.join(ADDED_TOKENS_FILE))?.unwrap_or_default();

        let mut added: BTreeMap<u32, AddedToken> = BTreeMap::new();
        for (id, t) in cfg.added_tokens_decoder {
            let id: u32 = id.parse().map_err(|_| {
                Error::Tokenizer(format!("tokenizer_config.json: added token id {id:?}"))
            })?;
            let tok = AddedToken::from(t.content, t.special)
                .lstrip(t.lstrip)
                .rstrip(t.rstrip)
                .normalized(t.normalized)
                .single_word(t.single_word);
            added.insert(id, tok);
        }
        for (content, id) in extra {
            added
                .entry(id)
                .or_insert_with(|| AddedToken::from(content, false));
        }

        let mut inner = tokenizers::Tokenizer::new(bpe);
        let prefix = cfg.add_prefix_space.unwrap_or(false);
        inner.with_pre_tokenizer(Some(ByteLevel::new(prefix, true, true)));
        inner.with_decoder(Some(ByteLevel::new(prefix, true, true)));
        // In id order, so that new tokens are appended with the ids the files give them.
        for (&id, tok) in &added {
            let res = if tok.special {
                inner.add_special_tokens([tok.clone()])
            } else {
                inner.add_tokens([tok.clone()])
            };
            res.map_err(|e| Error::Tokenizer(format!("adding {:?}: {e}", tok.content)))?;
            let got = inner.token_to_id(&tok.content);
            if got != Some(id) {
                return Err(Error::Tokenizer(format!(
                    "added token {:?} has id {got:?}, its file says {id}",
                    tok.content
                )));
            }
        }
        let max_len = cfg
            .model_max_length
            .filter(|m| (1.0..1e12).contains(m))
            .map(|m| m as usize);
        Ok(Self { inner, max_len })
    }

    /// Ids of already-normalised text: no BOS/EOS/SOT/EOT, truncated to `model_max_length`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let mut ids = enc.get_ids().to_vec();
        if let Some(m) = self.max_len {
            ids.truncate(m);
        }
        Ok(ids)
    }

    /// `len(tokenizer)`: the vocabulary with the added tokens (50276 released).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token (e.g. a tag such as `[laugh]`), if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}
