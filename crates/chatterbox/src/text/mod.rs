//! Text front end: `punc_norm` exactly as the reference, the English tokenizer, the splitter that
//! cuts long text into chunks the model speaks cleanly; for Chatterbox-Turbo its `punc_norm`
//! variant and the GPT-2 byte-level BPE.

mod gpt2_tokenizer;
mod ja;
mod mtl;
mod punc_norm;
mod split;
mod tokenizer;

pub use gpt2_tokenizer::{
    Gpt2Tokenizer, ADDED_TOKENS_FILE, MERGES_FILE, TOKENIZER_CONFIG_FILE, VOCAB_FILE,
};
pub use ja::{hiragana_normalize, JaDict, IPADIC_NOTICE};
pub use mtl::{
    korean_normalize, language_name, lower_nfkd, normalize_language, punc_norm_mtl, Cangjie,
    MtlTokenizer, LANGUAGES,
};
pub use punc_norm::{punc_norm, punc_norm_turbo};
pub use split::{split_text, Boundary, ChunkOptions, TextChunk};
pub use tokenizer::{EnTokenizer, EOT, SOT};
