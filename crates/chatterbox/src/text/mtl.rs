//! Chatterbox Multilingual's text front end (`mtl_tts.py` `punc_norm`, `MTLTokenizer` of
//! `models/tokenizers/tokenizer.py`): the 23 languages, the multilingual `punc_norm` (CJK
//! sentence enders), lower-casing + NFKD, the per-language steps and the `[xx]` language tag.
//!
//! Per-language steps, against the reference:
//! * `zh`: each CJK character becomes its Cangjie code (`Cangjie5_TC.json`) as `[cj_*]` tokens,
//!   exactly as `ChineseCangjieConverter`. The reference first segments words with
//!   `spacy-pkuseg` (a CRF model downloaded at first use); we do not segment: the segmenter's
//!   only effect is where `[SPACE]` tokens go between words. This is the reference's own path
//!   when pkuseg is not installed.
//! * `ja`: the reference converts kanji to hiragana with pykakasi (GPL; not portable into an MIT
//!   project). We do the same step with IPADIC readings and a MeCab-style segmentation
//!   ([`super::ja`]); words without kanji, kana and punctuation are kept as the reference keeps
//!   them, readings differ where pykakasi's and IPADIC's do (agreement measured in README.md).
//! * `ko`: Hangul syllables → conjoining jamo (the reference's formula, already what NFKD gives),
//!   then Python `strip()`: exact.
//! * `he`, `ru`: the reference's optional packages (`dicta_onnx`, `russian_text_stresser`) are
//!   not among its dependencies, so by default it leaves the text unchanged; so do we.

use std::collections::HashMap;
use std::path::Path;

use tokenizers::NormalizedString;

use super::tokenizer::{EOT, SOT};
use crate::{Error, Result};

/// The 23 languages of `SUPPORTED_LANGUAGES` (`mtl_tts.py:24-48`): ISO 639-1 code and English name.
pub const LANGUAGES: [(&str, &str); 23] = [
    ("ar", "Arabic"),
    ("da", "Danish"),
    ("de", "German"),
    ("el", "Greek"),
    ("en", "English"),
    ("es", "Spanish"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("ms", "Malay"),
    ("nl", "Dutch"),
    ("no", "Norwegian"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ru", "Russian"),
    ("sv", "Swedish"),
    ("sw", "Swahili"),
    ("tr", "Turkish"),
    ("zh", "Chinese"),
];

/// The English name of a supported language code (exact, lower-case code).
pub fn language_name(code: &str) -> Option<&'static str> {
    LANGUAGES.iter().find(|(c, _)| *c == code).map(|&(_, n)| n)
}

/// `code` lower-cased if it is one of [`LANGUAGES`] (as the reference's `language_id.lower()`
/// check), else an error listing the supported codes.
pub fn normalize_language(code: &str) -> Result<&'static str> {
    let lower = code.trim().to_lowercase();
    LANGUAGES
        .iter()
        .find(|(c, _)| *c == lower)
        .map(|&(c, _)| c)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "unsupported language {code:?}; supported: {}",
                LANGUAGES.map(|(c, _)| c).join(", ")
            ))
        })
}

/// The multilingual `punc_norm` (`mtl_tts.py:51-90`): the original's twelve rules, and the
/// CJK marks `、，。？！` also count as final punctuation.
pub fn punc_norm_mtl(text: &str) -> String {
    super::punc_norm::punc_norm_enders(text, &['、', '，', '。', '？', '！'])
}

/// Python's `str.lower()` then `unicodedata.normalize("NFKD", …)`.
pub fn lower_nfkd(text: &str) -> String {
    nfkd(&text.to_lowercase())
}

fn nfkd(text: &str) -> String {
    let mut n = NormalizedString::from(text);
    n.nfkd();
    n.get().to_string()
}

/// Python's `str.strip()` (Unicode White_Space and U+001C..U+001F).
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// `korean_normalize` (`tokenizer.py:136-154`): Hangul syllables → conjoining jamo, then strip.
pub fn korean_normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for c in text.chars() {
        let u = c as u32;
        if (0xAC00..=0xD7AF).contains(&u) {
            let b = u - 0xAC00;
            let jamo = [
                Some(0x1100 + b / 588),
                Some(0x1161 + (b % 588) / 28),
                (b % 28 > 0).then_some(0x11A7 + b % 28),
            ];
            out.extend(jamo.into_iter().flatten().filter_map(char::from_u32));
        } else {
            out.push(c);
        }
    }
    py_strip(&out).to_string()
}

/// Unicode general category `Lo` (Other_Letter), the reference's `category(c) == "Lo"` test.
fn is_other_letter(c: char) -> bool {
    use unicode_categories::UnicodeCategories;
    c.is_letter_other()
}

/// `ChineseCangjieConverter` without its word segmenter: the `Cangjie5_TC.json` table.
#[derive(Debug, Clone, Default)]
pub struct Cangjie {
    /// glyph → (code, position of the glyph among the glyphs with that code).
    glyphs: HashMap<String, (String, usize)>,
}

impl Cangjie {
    /// Parse `Cangjie5_TC.json`: a JSON list of `"word\tcode…"` strings. A later entry for the
    /// same word replaces the earlier code; a glyph's index is its first position in the list of
    /// words sharing its code, in file order (the reference's `cj2word[code].index(glyph)`).
    pub fn from_json(json: &str) -> Result<Self> {
        let entries: Vec<String> = serde_json::from_str(json)
            .map_err(|e| Error::Tokenizer(format!("Cangjie table: {e}")))?;
        let mut word2cj: HashMap<&str, &str> = HashMap::new();
        let mut cj2word: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in &entries {
            let mut f = e.split('\t');
            let (Some(word), Some(code)) = (f.next(), f.next()) else {
                return Err(Error::Tokenizer(format!(
                    "Cangjie table: entry {e:?} is not word<TAB>code"
                )));
            };
            word2cj.insert(word, code);
            cj2word.entry(code).or_default().push(word);
        }
        let glyphs = word2cj
            .iter()
            .map(|(&w, &code)| {
                let idx = cj2word
                    .get(code)
                    .and_then(|ws| ws.iter().position(|&x| x == w))
                    .unwrap_or(0);
                (w.to_string(), (code.to_string(), idx))
            })
            .collect();
        Ok(Self { glyphs })
    }

    /// Read `Cangjie5_TC.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Self::from_json(&text).map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))
    }

    /// Glyphs in the table.
    pub fn len(&self) -> usize {
        self.glyphs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.glyphs.is_empty()
    }

    /// Every `Lo` character with a code becomes `[cj_c]…[cj_.]` (its index digits appended to
    /// the code when > 0); everything else is kept.
    pub fn convert(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() * 4);
        let mut buf = [0u8; 4];
        for c in text.chars() {
            let hit = if is_other_letter(c) {
                self.glyphs.get(&*c.encode_utf8(&mut buf))
            } else {
                None
            };
            match hit {
                Some((code, idx)) => {
                    let mut code = code.clone();
                    if *idx > 0 {
                        code.push_str(&idx.to_string());
                    }
                    for ch in code.chars() {
                        out.push_str("[cj_");
                        out.push(ch);
                        out.push(']');
                    }
                    out.push_str("[cj_.]");
                }
                None => out.push(c),
            }
        }
        out
    }
}

const SPACE: &str = "[SPACE]";

/// `MTLTokenizer`: `grapheme_mtl_merged_expanded_v1.json` + the Cangjie table.
#[derive(Clone)]
pub struct MtlTokenizer {
    inner: tokenizers::Tokenizer,
    cangjie: Cangjie,
}

impl std::fmt::Debug for MtlTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtlTokenizer")
            .field("cangjie_glyphs", &self.cangjie.len())
            .finish_non_exhaustive()
    }
}

impl MtlTokenizer {
    /// From the tokenizer JSON file and, when given, `Cangjie5_TC.json` (without it Chinese
    /// characters pass through unconverted, as the reference does when the table cannot be read).
    pub fn from_files(tokenizer: &Path, cangjie: Option<&Path>) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(tokenizer)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tokenizer.display())))?;
        let cangjie = match cangjie {
            Some(p) => Cangjie::from_file(p)?,
            None => Cangjie::default(),
        };
        Self::new(inner, cangjie)
    }

    /// From the JSON texts of both files.
    pub fn from_json(tokenizer: &str, cangjie: Option<&str>) -> Result<Self> {
        let inner: tokenizers::Tokenizer = tokenizer
            .parse()
            .map_err(|e| Error::Tokenizer(format!("invalid tokenizer JSON: {e}")))?;
        let cangjie = match cangjie {
            Some(j) => Cangjie::from_json(j)?,
            None => Cangjie::default(),
        };
        Self::new(inner, cangjie)
    }

    fn new(inner: tokenizers::Tokenizer, cangjie: Cangjie) -> Result<Self> {
        for tok in ["[START]", "[STOP]"] {
            if inner.token_to_id(tok).is_none() {
                return Err(Error::Tokenizer(format!("the tokenizer lacks {tok}")));
            }
        }
        Ok(Self { inner, cangjie })
    }

    /// Ids in the vocabulary (with added tokens).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The string the reference hands to the HF tokenizer, before `[SPACE]` replacement:
    /// lower-case, NFKD, the language's step, the `[xx]` tag. `language` must be a supported code
    /// (lower case) or `None`.
    pub fn preprocess(&self, text: &str, language: Option<&str>) -> String {
        let t = lower_nfkd(text);
        let t = match language {
            Some("zh") => self.cangjie.convert(&t),
            Some("ko") => korean_normalize(&t),
            Some("ja") => super::ja::hiragana_normalize(&t),
            // he, ru: the reference's default no-ops.
            _ => t,
        };
        match language {
            Some(l) if !l.is_empty() => format!("[{l}]{t}"),
            _ => t,
        }
    }

    /// Ids of already `punc_norm`-ed text (no SOT/EOT).
    pub fn encode(&self, text: &str, language: Option<&str>) -> Result<Vec<u32>> {
        let t = self.preprocess(text, language).replace(' ', SPACE);
        let enc = self
            .inner
            .encode(t.as_str(), true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// `[SOT] + encode + [EOT]`, the T3 text input.
    pub fn encode_with_bounds(&self, text: &str, language: Option<&str>) -> Result<Vec<u32>> {
        let mut ids = vec![SOT];
        ids.extend(self.encode(text, language)?);
        ids.push(EOT);
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punc_norm_knows_cjk_enders() {
        assert_eq!(
            punc_norm_mtl("hello... world; yes - no: ok\u{2026}"),
            "Hello,  world,  yes, no, ok,"
        );
        assert_eq!(punc_norm_mtl("你好，世界"), "你好，世界.");
        assert_eq!(punc_norm_mtl("你好。"), "你好。");
        assert_eq!(punc_norm_mtl("真的？"), "真的？");
    }

    #[test]
    fn lower_nfkd_like_python() {
        assert_eq!(lower_nfkd("ΟΔΟΣ"), "οδος");
        assert_eq!(lower_nfkd("Café ！"), "cafe\u{301} !");
        assert_eq!(lower_nfkd("İ"), "i\u{307}");
        assert_eq!(lower_nfkd("ﬁ①"), "fi1");
    }

    #[test]
    fn korean_formula_equals_nfkd_and_strips() {
        let s = "  안녕하세요 세계 ";
        assert_eq!(korean_normalize(s), korean_normalize(&nfkd(s)));
        assert_eq!(korean_normalize("한"), "\u{1112}\u{1161}\u{11ab}");
    }

    #[test]
    fn cangjie_codes_and_indices() -> Result<()> {
        let cj = Cangjie::from_json(r#"["日\ta", "曰\ta", "月\tb\textra", "日\ta"]"#)?;
        assert_eq!(
            cj.convert("日曰月x"),
            "[cj_a][cj_.][cj_a][cj_1][cj_.][cj_b][cj_.]x"
        );
        assert!(Cangjie::from_json(r#"["bad"]"#).is_err());
        Ok(())
    }

    #[test]
    fn languages() {
        assert_eq!(normalize_language("FR").ok(), Some("fr"));
        let e = normalize_language("xx").err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("zh")));
        assert_eq!(language_name("ja"), Some("Japanese"));
    }
}
