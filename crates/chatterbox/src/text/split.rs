//! Long text → chunks the model speaks cleanly.
//!
//! Chatterbox is trained on short utterances and T3 stops at 1000 speech tokens (≈ 40 s), so a
//! long text is spoken chunk by chunk. The splitter works in three passes:
//!
//! 1. paragraphs (blank lines) never share a chunk;
//! 2. sentences end at `.` `!` `?` `…` (and the Arabic `؟`, Urdu `۔`, Devanagari `।` `॥`)
//!    followed by whitespace, or at once at the CJK `。！？｡．`, except
//!    after an abbreviation (`Dr.`, `e.g.`), an initial (`J.`), an acronym (`U.S.`) or when the
//!    next word starts in lower case; a period between digits (`3.14`) or inside a URL is never
//!    followed by whitespace, so it never ends a sentence;
//! 3. a sentence longer than [`ChunkOptions::max_chars`] is cut, in order of preference, at a
//!    sentence end inside a quotation, at a clause boundary (`,` `;` `:` a dash, CJK `，、；：`,
//!    Arabic `،` `؛`)
//!    outside quotes, at one inside quotes, and at last between words. A single "word" longer
//!    than the limit (a long URL) stays whole unless it exceeds twice the limit.
//!
//! Chunks shorter than [`ChunkOptions::min_chars`] are merged with the next one of the same
//! paragraph (very short utterances are where the model is weakest), and pieces with nothing to
//! speak (a lone `—`) join their neighbour.

use serde::{Deserialize, Serialize};

/// How to cut a text into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkOptions {
    /// Longest chunk in characters (a single longer word excepted). 0 = no limit (sentences are
    /// still spoken one by one).
    pub max_chars: usize,
    /// Chunks shorter than this merge with the next one of the same paragraph.
    pub min_chars: usize,
}

impl ChunkOptions {
    /// Default longest chunk: 300 characters ≈ 20 s of speech at a usual 15 characters per
    /// second, ≈ 500 speech tokens — half of T3's 1000-token cap, so slow or exaggerated speech
    /// still ends by its own EOS, and well within the few-to-twenty-second utterances the model is
    /// trained on. Most sentences are shorter, so most chunks are exactly one sentence.
    pub const DEFAULT_MAX_CHARS: usize = 300;
    /// Default shortest chunk: a sentence under 40 characters (≈ 3 s: "Yes.", "Thank you.") is
    /// spoken together with the next one.
    pub const DEFAULT_MIN_CHARS: usize = 40;
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            max_chars: Self::DEFAULT_MAX_CHARS,
            min_chars: Self::DEFAULT_MIN_CHARS,
        }
    }
}

/// What ends a chunk: it sets the pause before the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Boundary {
    /// Cut inside a sentence (at a clause or between words).
    Clause,
    /// End of a sentence.
    Sentence,
    /// End of a paragraph (or of the text).
    Paragraph,
}

/// One piece of text to speak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChunk {
    pub text: String,
    /// What ends it.
    pub boundary: Boundary,
}

/// Abbreviations after which a period does not end a sentence (lower case, without the final
/// period).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "no", "nos", "fig", "figs",
    "approx", "e.g", "i.e", "cf", "etc", "inc", "ltd", "co", "corp", "dept", "est", "gen", "gov",
    "lt", "col", "capt", "sgt", "rev", "hon", "vol", "p", "pp", "ch", "sec", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "ph.d",
];

const OPENING_QUOTES: &[char] = &['\u{201c}', '\u{00ab}', '\u{300c}', '\u{300e}'];
const CLOSING_QUOTES: &[char] = &['\u{201d}', '\u{00bb}', '\u{300d}', '\u{300f}'];
/// What may follow a sentence's final punctuation and still belong to it.
const CLOSERS: &[char] = &[
    '"', '\'', ')', ']', '\u{2019}', '\u{201d}', '\u{00bb}', '\u{300d}', '\u{300f}', '\u{ff09}',
];

/// Sentence ends that need no space after them (CJK full stops, exclamation and question marks;
/// `｡` is the half-width form).
const CJK_ENDERS: &str = "。！？｡．";
/// Sentence ends that count when whitespace (or the end) follows: Latin, Arabic `؟`, Urdu `۔`,
/// Devanagari `।` `॥` (Hindi).
const SPACED_ENDERS: &str = ".!?\u{2026}\u{61f}\u{6d4}\u{964}\u{965}";

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff   // kana
        | 0x3400..=0x4dbf // CJK extension A
        | 0x4e00..=0x9fff // CJK unified ideographs
        | 0xac00..=0xd7af // Hangul syllables
        | 0xf900..=0xfaff)
}

/// Split `text` into chunks of at most `opts.max_chars` characters (see the module docs). Always
/// at least one chunk for a text with anything to speak; none for a blank one.
pub fn split_text(text: &str, opts: &ChunkOptions) -> Vec<TextChunk> {
    let mut out = Vec::new();
    for para in paragraphs(text) {
        let chars: Vec<char> = para.chars().collect();
        let quoted = quoted_cuts(&chars);
        let mut pieces: Vec<(usize, usize, Boundary)> = Vec::new();
        for (s, e) in cut_at(&chars, 0, chars.len(), |i| {
            sentence_end(&chars, i).filter(|&j| !quoted[j])
        }) {
            let sentence = Splitter {
                chars: &chars,
                quoted: &quoted,
                max: opts.max_chars,
            }
            .split(s, e);
            let n = sentence.len();
            for (k, (a, b)) in sentence.into_iter().enumerate() {
                let boundary = if k + 1 == n {
                    Boundary::Sentence
                } else {
                    Boundary::Clause
                };
                pieces.push((a, b, boundary));
            }
        }
        let mut chunks: Vec<TextChunk> = Vec::new();
        for (a, b, boundary) in pieces {
            let text: String = chars[a..b].iter().collect::<String>().trim().to_string();
            if text.is_empty() {
                continue;
            }
            let speakable = text.chars().any(char::is_alphanumeric);
            match chunks.last_mut() {
                Some(last)
                    if !speakable
                        || !last.text.chars().any(char::is_alphanumeric)
                        || (last.text.chars().count() < opts.min_chars
                            && fits(&last.text, &text, opts.max_chars)) =>
                {
                    last.text = join(&last.text, &text);
                    last.boundary = boundary;
                }
                _ => chunks.push(TextChunk { text, boundary }),
            }
        }
        // A short last piece joins the one before when both fit.
        if chunks.len() >= 2 {
            let n = chunks.len();
            let (head, tail) = chunks.split_at_mut(n - 1);
            if let (Some(prev), Some(last)) = (head.last_mut(), tail.first()) {
                if last.text.chars().count() < opts.min_chars
                    && prev.boundary != Boundary::Clause
                    && fits(&prev.text, &last.text, opts.max_chars)
                {
                    prev.text = join(&prev.text, &last.text);
                    prev.boundary = last.boundary;
                    chunks.pop();
                }
            }
        }
        if let Some(last) = chunks.last_mut() {
            last.boundary = Boundary::Paragraph;
        }
        out.extend(chunks);
    }
    out
}

fn fits(a: &str, b: &str, max: usize) -> bool {
    max == 0 || a.chars().count() + 1 + b.chars().count() <= max
}

fn join(a: &str, b: &str) -> String {
    // CJK text has no spaces between sentences.
    let cjk = a
        .chars()
        .last()
        .is_some_and(|c| is_cjk(c) || CJK_ENDERS.contains(c) || "，、".contains(c));
    if cjk {
        format!("{a}{b}")
    } else {
        format!("{a} {b}")
    }
}

/// Paragraphs (separated by a blank line), whitespace collapsed to single spaces.
fn paragraphs(text: &str) -> Vec<String> {
    let mut paras = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                paras.push(collapse(&cur.join(" ")));
                cur.clear();
            }
        } else {
            cur.push(line);
        }
    }
    if !cur.is_empty() {
        paras.push(collapse(&cur.join(" ")));
    }
    paras.retain(|p| !p.is_empty());
    paras
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// For each cut position `j` (between characters `j - 1` and `j`, `0..=len`), whether it falls
/// inside a quotation. Straight double quotes pair up in order (an unmatched last one quotes
/// nothing); curly and CJK quotes nest.
fn quoted_cuts(chars: &[char]) -> Vec<bool> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let straight: Vec<usize> = (0..chars.len()).filter(|&i| chars[i] == '"').collect();
    for pair in straight.chunks_exact(2) {
        spans.push((pair[0], pair[1]));
    }
    let mut open: Vec<usize> = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        if OPENING_QUOTES.contains(&c) {
            open.push(i);
        } else if CLOSING_QUOTES.contains(&c) {
            if let Some(start) = open.pop() {
                spans.push((start, i));
            }
        }
    }
    let mut inside = vec![false; chars.len() + 1];
    for (s, e) in spans {
        for m in &mut inside[s + 1..=e] {
            *m = true;
        }
    }
    inside
}

/// If a sentence ends with the character at `i`, the index just past it (its closing quotes and
/// brackets included).
fn sentence_end(chars: &[char], i: usize) -> Option<usize> {
    let c = chars[i];
    if CJK_ENDERS.contains(c) {
        let mut j = i + 1;
        while j < chars.len() && (CLOSERS.contains(&chars[j]) || CJK_ENDERS.contains(chars[j])) {
            j += 1;
        }
        return Some(j);
    }
    if !SPACED_ENDERS.contains(c) {
        return None;
    }
    let mut j = i + 1;
    while j < chars.len() && (CLOSERS.contains(&chars[j]) || SPACED_ENDERS.contains(chars[j])) {
        j += 1;
    }
    // Only the last mark of a run (`?!`, `...`) decides.
    if j < chars.len() && !chars[j].is_whitespace() {
        return None;
    }
    if i + 1 < chars.len() && SPACED_ENDERS.contains(chars[i + 1]) {
        return None;
    }
    if c == '.' && !period_ends_sentence(chars, i, j) {
        return None;
    }
    Some(j)
}

/// A period at `i` followed by whitespace (at `end`): does it end the sentence?
fn period_ends_sentence(chars: &[char], i: usize, end: usize) -> bool {
    let start = chars[..i]
        .iter()
        .rposition(|c| c.is_whitespace())
        .map_or(0, |p| p + 1);
    let word: String = chars[start..i]
        .iter()
        .skip_while(|c| !c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    let next = chars[end..].iter().find(|c| !c.is_whitespace());
    let Some(&next) = next else {
        return true; // end of the text
    };
    if next.is_lowercase() {
        return false; // "approx. three", "etc. and"
    }
    if word == "etc" {
        return true; // "etc." usually ends what it lists
    }
    let initial = word.chars().count() == 1 && word.chars().all(char::is_alphabetic);
    let acronym = word.contains('.')
        && word
            .split('.')
            .all(|p| p.chars().count() == 1 && p.chars().all(char::is_alphabetic));
    !(ABBREVIATIONS.contains(&word.as_str()) || initial || acronym)
}

/// A clause boundary after the character at `i`: the index just past it.
fn clause_end(chars: &[char], i: usize) -> Option<usize> {
    let c = chars[i];
    if "，、；：\u{60c}\u{61b}".contains(c) {
        return Some(i + 1);
    }
    let next_space = chars.get(i + 1).is_some_and(|n| n.is_whitespace());
    let prev_space = i > 0 && chars[i - 1].is_whitespace();
    match c {
        ',' | ';' | ':' if next_space => Some(i + 1),
        '\u{2014}' | '\u{2013}' | '-' if next_space && prev_space => Some(i + 1),
        '\u{2014}' if i > 0 => Some(i + 1), // an unspaced em dash separates clauses too
        _ => None,
    }
}

/// A boundary between words before index `i + 1`: whitespace, or between two CJK characters.
fn word_end(chars: &[char], i: usize) -> Option<usize> {
    if chars[i].is_whitespace() {
        return Some(i);
    }
    let next = chars.get(i + 1)?;
    (is_cjk(chars[i]) && is_cjk(*next)).then_some(i + 1)
}

/// `start..end` cut after every position where `at` finds a boundary (trailing whitespace
/// belongs to nothing). Empty pieces are dropped.
fn cut_at(
    chars: &[char],
    start: usize,
    end: usize,
    at: impl Fn(usize) -> Option<usize>,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut a = start;
    let mut i = start;
    while i < end {
        if let Some(j) = at(i).filter(|&j| j > a && j <= end) {
            out.push((a, j));
            a = j;
            i = j;
            continue;
        }
        i += 1;
    }
    if a < end {
        out.push((a, end));
    }
    out.retain(|&(a, b)| chars[a..b].iter().any(|c| !c.is_whitespace()));
    out
}

struct Splitter<'a> {
    chars: &'a [char],
    quoted: &'a [bool],
    max: usize,
}

impl Splitter<'_> {
    fn len(&self, a: usize, b: usize) -> usize {
        // Surrounding whitespace is trimmed away.
        let s = &self.chars[a..b];
        let lead = s.iter().take_while(|c| c.is_whitespace()).count();
        let trail = s.iter().rev().take_while(|c| c.is_whitespace()).count();
        s.len().saturating_sub(lead + trail)
    }

    /// `a..b` in pieces of at most `max` characters, cut at the most preferred boundaries.
    fn split(&self, a: usize, b: usize) -> Vec<(usize, usize)> {
        self.split_level(a, b, 0)
    }

    fn split_level(&self, a: usize, b: usize, level: usize) -> Vec<(usize, usize)> {
        if self.max == 0 || self.len(a, b) <= self.max {
            return vec![(a, b)];
        }
        let (c, q) = (self.chars, self.quoted);
        let segments = match level {
            0 => cut_at(c, a, b, |i| sentence_end(c, i).filter(|&j| q[j])),
            1 => cut_at(c, a, b, |i| clause_end(c, i).filter(|&j| !q[j])),
            2 => cut_at(c, a, b, |i| clause_end(c, i).filter(|&j| q[j])),
            3 => cut_at(c, a, b, |i| word_end(c, i)),
            _ => return self.hard_split(a, b),
        };
        let mut out = Vec::new();
        let mut cur: Option<(usize, usize)> = None;
        for (s, e) in segments {
            cur = match cur {
                Some((cs, _)) if self.len(cs, e) <= self.max => Some((cs, e)),
                Some(prev) => {
                    out.extend(self.split_level(prev.0, prev.1, level + 1));
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((cs, ce)) = cur {
            out.extend(self.split_level(cs, ce, level + 1));
        }
        out
    }

    /// One word longer than `max`: kept whole up to twice the limit, else cut every `max`.
    fn hard_split(&self, a: usize, b: usize) -> Vec<(usize, usize)> {
        if self.len(a, b) <= 2 * self.max {
            return vec![(a, b)];
        }
        (a..b)
            .step_by(self.max)
            .map(|s| (s, (s + self.max).min(b)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str, max: usize) -> Vec<String> {
        let opts = ChunkOptions {
            max_chars: max,
            min_chars: 0,
        };
        split_text(text, &opts)
            .into_iter()
            .map(|c| c.text)
            .collect()
    }

    #[test]
    fn sentences_end_at_terminal_punctuation() {
        assert_eq!(
            texts("Hello there. How are you? Fine!  Thanks…  Bye.", 300),
            ["Hello there.", "How are you?", "Fine!", "Thanks…", "Bye."]
        );
        assert_eq!(
            texts("Really?! Yes... I think so.", 300),
            ["Really?!", "Yes...", "I think so."]
        );
    }

    #[test]
    fn numbers_are_never_split() {
        assert_eq!(
            texts("Pi is 3.14 and it costs $1,000. Next.", 300),
            ["Pi is 3.14 and it costs $1,000.", "Next."]
        );
        // At a clause level too: "1,000" has no space after its comma.
        let t = texts("We counted 1,000,000 stars, then 2,500 more, and so on", 30);
        assert!(t.iter().any(|c| c.contains("1,000,000")), "{t:?}");
        assert!(t.iter().any(|c| c.contains("2,500")), "{t:?}");
    }

    #[test]
    fn abbreviations_initials_and_acronyms_do_not_end_sentences() {
        assert_eq!(
            texts("Dr. Smith met Mr. Jones, e.g. at St. Paul's. Then J. K. Rowling left the U.S. Bank.", 300),
            [
                "Dr. Smith met Mr. Jones, e.g. at St. Paul's.",
                "Then J. K. Rowling left the U.S. Bank."
            ]
        );
        // An unknown abbreviation followed by a lower-case word.
        assert_eq!(texts("It weighs approx. three kilos.", 300).len(), 1);
        assert_eq!(
            texts("Bring pens, paper, etc. Then sit down.", 300),
            ["Bring pens, paper, etc.", "Then sit down."]
        );
    }

    #[test]
    fn urls_stay_whole() {
        let t = texts(
            "Visit https://example.com/a.b?x=1. Or www.test.org today. It is e.g. fine.",
            300,
        );
        assert_eq!(
            t,
            [
                "Visit https://example.com/a.b?x=1.",
                "Or www.test.org today.",
                "It is e.g. fine."
            ]
        );
        // Even when cutting between words, the URL is one word.
        let long = "See https://example.com/some/very/long/path/to/a/resource.html for the details";
        for c in texts(long, 40) {
            assert!(
                !c.contains("https") || c.contains("resource.html"),
                "{c:?} cuts the URL"
            );
        }
    }

    #[test]
    fn quotations_stay_whole_when_possible() {
        assert_eq!(
            texts("He said \"Stop. Wait here.\" Then he left. Done.", 300),
            ["He said \"Stop. Wait here.\"", "Then he left.", "Done."]
        );
        assert_eq!(
            texts("She wrote \u{201c}No. Never.\u{201d} and smiled.", 300),
            ["She wrote \u{201c}No. Never.\u{201d} and smiled."]
        );
        // Too long to keep: the quotation is cut at its own sentence end first.
        let t = texts(
            "He said \"this is the first sentence of many. And here is the second one.\" after",
            60,
        );
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(t[0].ends_with("many."), "{t:?}");
    }

    #[test]
    fn long_sentences_are_cut_at_clauses_then_words_under_the_limit() {
        let s = "This sentence runs on for a while, it has several clauses; each of them is \
                 fairly long: and it never seems to end, which is exactly the point of it.";
        let t = texts(s, 60);
        assert!(t.len() > 1);
        for c in &t {
            assert!(c.chars().count() <= 60, "{c:?}");
            assert!(
                c.ends_with(',') || c.ends_with(';') || c.ends_with(':') || c.ends_with('.'),
                "clause boundary preferred: {c:?}"
            );
        }
        assert_eq!(t.join(" "), s, "nothing lost or reordered");
        let words = "one two three four five six seven eight nine ten eleven twelve";
        let t = texts(words, 15);
        for c in &t {
            assert!(c.chars().count() <= 15, "{c:?}");
        }
        assert_eq!(t.join(" "), words, "never inside a word");
    }

    #[test]
    fn cjk_sentences_and_clauses() {
        assert_eq!(
            texts("今天天气很好。我们去公园吧！你觉得怎么样？", 300),
            ["今天天气很好。", "我们去公园吧！", "你觉得怎么样？"]
        );
        let t = texts(
            "这是一个很长的句子，它有很多部分，每一部分都不短，所以要切开。",
            12,
        );
        for c in &t {
            assert!(c.chars().count() <= 12, "{c:?}");
        }
        assert_eq!(
            t.concat(),
            "这是一个很长的句子，它有很多部分，每一部分都不短，所以要切开。"
        );
    }

    #[test]
    fn sentence_ends_of_other_scripts() {
        assert_eq!(
            texts("日本語です｡次の文です．最後！", 300),
            ["日本語です｡", "次の文です．", "最後！"]
        );
        assert_eq!(
            texts("नमस्ते दुनिया। आप कैसे हैं?", 300),
            ["नमस्ते दुनिया।", "आप कैसे हैं?"]
        );
        assert_eq!(
            texts("مرحبا بالعالم؟ كيف حالك اليوم.", 300),
            ["مرحبا بالعالم؟", "كيف حالك اليوم."]
        );
        // Arabic commas are clause boundaries.
        let t = texts("كلمة كلمة، كلمة كلمة، كلمة كلمة", 12);
        assert_eq!(t[0], "كلمة كلمة،");
    }

    #[test]
    fn paragraphs_short_pieces_and_boundaries() {
        let opts = ChunkOptions {
            max_chars: 300,
            min_chars: 20,
        };
        let chunks = split_text(
            "Yes. No. This one is long enough on its own.\n\nNew paragraph here, also long.\n—",
            &opts,
        );
        let t: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            t,
            [
                "Yes. No. This one is long enough on its own.",
                "New paragraph here, also long. —"
            ]
        );
        assert_eq!(chunks[0].boundary, Boundary::Paragraph);
        assert!(split_text("   \n\n ", &opts).is_empty());
        let s = split_text("First sentence is here. Second sentence is here.", &opts);
        assert_eq!(
            s.iter().map(|c| c.boundary).collect::<Vec<_>>(),
            [Boundary::Sentence, Boundary::Paragraph]
        );
        // max_chars 0: one chunk per paragraph.
        let whole = ChunkOptions {
            max_chars: 0,
            min_chars: 0,
        };
        assert_eq!(split_text("Ab cd. Ef gh. Ij kl.", &whole).len(), 3);
    }

    #[test]
    fn the_longest_accepted_texts_split_fast_and_whole() {
        // 20,000 characters without any punctuation, and the same as many short sentences.
        let words = "lorem ipsum dolor sit amet ".repeat(741);
        let sentences = "Short one here. ".repeat(1250);
        for text in [&words, &sentences] {
            let t0 = std::time::Instant::now();
            let chunks = split_text(text, &ChunkOptions::default());
            assert!(t0.elapsed().as_secs_f64() < 2.0, "{:?}", t0.elapsed());
            assert!(chunks
                .iter()
                .all(|c| c.text.chars().count() <= ChunkOptions::DEFAULT_MAX_CHARS));
            let joined: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
            assert_eq!(joined.join(" "), text.trim(), "nothing lost or reordered");
        }
    }

    #[test]
    fn an_overlong_word_is_cut_only_beyond_twice_the_limit() {
        let w = "x".repeat(25);
        assert_eq!(texts(&w, 20), [w]);
        let w = "y".repeat(50);
        let t = texts(&w, 20);
        assert_eq!(t.len(), 3);
        assert_eq!(t.concat(), w);
    }
}
