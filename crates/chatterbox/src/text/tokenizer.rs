use std::path::Path;

use crate::{Error, Result};

/// Start-of-text id added by the pipeline (`T3Config.start_text_token`).
pub const SOT: u32 = 255;
/// End-of-text id added by the pipeline (`T3Config.stop_text_token`).
pub const EOT: u32 = 0;
const SPACE: &str = "[SPACE]";

/// Chatterbox's English tokenizer: spaces become the literal `[SPACE]` token, then the HF
/// `tokenizer.json` is applied with special tokens on (the released file has no post-processor).
#[derive(Clone)]
pub struct EnTokenizer {
    inner: tokenizers::Tokenizer,
}

impl std::fmt::Debug for EnTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnTokenizer").finish_non_exhaustive()
    }
}

impl EnTokenizer {
    /// Reads `tokenizer.json` and checks it has the `[START]` and `[STOP]` tokens, as the reference does.
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        Self::from_tokenizer(inner)
    }

    /// From the JSON text of a `tokenizer.json`.
    pub fn from_json(json: &str) -> Result<Self> {
        let inner: tokenizers::Tokenizer = json
            .parse()
            .map_err(|e| Error::Tokenizer(format!("invalid tokenizer.json: {e}")))?;
        Self::from_tokenizer(inner)
    }

    fn from_tokenizer(inner: tokenizers::Tokenizer) -> Result<Self> {
        for tok in ["[START]", "[STOP]"] {
            if inner.token_to_id(tok).is_none() {
                return Err(Error::Tokenizer(format!("tokenizer.json lacks {tok}")));
            }
        }
        Ok(Self { inner })
    }

    /// Ids of already-normalised text (no SOT/EOT).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let text = text.replace(' ', SPACE);
        let enc = self
            .inner
            .encode(text.as_str(), true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// `[SOT] + encode(text) + [EOT]`, as `generate` builds the T3 text input.
    pub fn encode_with_bounds(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::with_capacity(text.len() + 2);
        ids.push(SOT);
        ids.extend(self.encode(text)?);
        ids.push(EOT);
        Ok(ids)
    }
}
