//! Japanese kanji → hiragana, the `ja` step of the multilingual front end.
//!
//! The reference (`hiragana_normalize`, `models/tokenizers/tokenizer.py`) splits the text with
//! pykakasi and replaces every segment that contains a CJK Unified Ideograph (U+4E00..U+9FFF) by
//! its hiragana reading, with a space before a reading that starts with は or へ; everything else
//! is kept; then NFKD. pykakasi is GPL, so its code and dictionary are not used here. Instead the
//! text is segmented the way MeCab does with IPADIC 2.7.0 (a Viterbi search over the dictionary
//! words and the unknown-word rules of `char.def`/`unk.def`, costs from `matrix.def`) and each
//! word containing such a kanji is replaced by its IPADIC reading (katakana → hiragana), with the
//! reference's は/へ space rule; numerals, which IPADIC reads one character at a time, get the
//! readings of common numeral + counter words and of the 百/千 sound changes. The dictionary is a
//! compact table generated from Debian's `mecab-ipadic` sources by `tools/ja/make_ja_dict.py` and
//! embedded in the library (`data/ja_ipadic.bin.gz`, licence in `data/NOTICE-ipadic`).
//!
//! The two disagree where pykakasi's longest-match readings and MeCab's context-based ones differ
//! (e.g. `今日は` → pykakasi `こんにちは`, ours `きょうは`); the agreement on a test set of 141
//! sentences is in README.md and guarded by the `mtl_ja` parity check.

use std::borrow::Cow;
use std::io::Read;
use std::sync::OnceLock;

use tokenizers::NormalizedString;

const DICT_GZ: &[u8] = include_bytes!("../../data/ja_ipadic.bin.gz");
/// The licence notice of IPADIC, from which the embedded Japanese dictionary is derived (its
/// terms require the notice to travel with every copy, the binary included).
pub const IPADIC_NOTICE: &str = include_str!("../../data/NOTICE-ipadic");
const MAGIC: &[u8] = b"CBJAIPA1";
/// MeCab's `max_grouping_size`: longest unknown-word group (characters after the first).
const MAX_GROUPING: usize = 24;
/// Context id of the sentence start and end (BOS/EOS).
const BOS_EOS: u16 = 0;

/// A `char.def` category.
#[derive(Debug, Clone, Copy)]
struct Category {
    invoke: bool,
    group: bool,
    length: usize,
}

/// A `char.def` code-point range: its default category and the mask of all its categories.
#[derive(Debug, Clone, Copy)]
struct CharRange {
    lo: u32,
    hi: u32,
    cat: u8,
    mask: u32,
}

/// One dictionary entry (IPADIC's left and right context ids are equal).
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: u16,
    cost: i16,
    /// Byte range of the hiragana reading in `JaDict::data` (empty for kanji-free words).
    reading: (u32, u32),
}

/// The embedded IPADIC tables.
pub struct JaDict {
    data: Vec<u8>,
    lsize: usize,
    matrix: Vec<i16>,
    categories: Vec<Category>,
    ranges: Vec<CharRange>,
    /// Unknown-word entries per category.
    unknown: Vec<Vec<Entry>>,
    /// Sorted surfaces: (byte range in `data`, range in `entries`).
    surfaces: Vec<((u32, u32), (u32, u32))>,
    entries: Vec<Entry>,
    max_surface_chars: usize,
}

impl std::fmt::Debug for JaDict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaDict")
            .field("surfaces", &self.surfaces.len())
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
        let s = self
            .data
            .get(self.pos..self.pos + n)
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn i16(&mut self) -> Result<i16, String> {
        let b = self.bytes(2)?;
        Ok(i16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A u8-length-prefixed string: its byte range.
    fn str_range(&mut self) -> Result<(u32, u32), String> {
        let n = self.u8()? as usize;
        let start = self.pos;
        let s = self.bytes(n)?;
        std::str::from_utf8(s).map_err(|e| format!("bad UTF-8 at byte {start}: {e}"))?;
        Ok((start as u32, (start + n) as u32))
    }
}

/// A lattice node.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Character index where the node begins (before any skipped spaces) and of its surface.
    begin: usize,
    surface: usize,
    end: usize,
    id: u16,
    reading: (u32, u32),
    cost: i64,
    prev: usize,
}

impl JaDict {
    /// The dictionary embedded in the library, decoded once.
    pub fn embedded() -> Result<&'static JaDict, String> {
        static DICT: OnceLock<Result<JaDict, String>> = OnceLock::new();
        DICT.get_or_init(|| {
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(DICT_GZ)
                .read_to_end(&mut raw)
                .map_err(|e| format!("ja dictionary: {e}"))?;
            Self::parse(raw).map_err(|e| format!("ja dictionary: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    fn parse(data: Vec<u8>) -> Result<Self, String> {
        let mut r = Reader {
            data: &data,
            pos: 0,
        };
        if r.bytes(MAGIC.len())? != MAGIC {
            return Err("bad magic".into());
        }
        let lsize = r.u16()? as usize;
        let rsize = r.u16()? as usize;
        let mut matrix = Vec::with_capacity(lsize * rsize);
        for _ in 0..lsize * rsize {
            matrix.push(r.i16()?);
        }
        let ncat = r.u8()? as usize;
        let mut categories = Vec::with_capacity(ncat);
        for _ in 0..ncat {
            categories.push(Category {
                invoke: r.u8()? != 0,
                group: r.u8()? != 0,
                length: r.u8()? as usize,
            });
        }
        let nrange = r.u32()? as usize;
        let mut ranges = Vec::with_capacity(nrange);
        for _ in 0..nrange {
            let range = CharRange {
                lo: r.u32()?,
                hi: r.u32()?,
                cat: r.u8()?,
                mask: r.u32()?,
            };
            if range.cat as usize >= ncat {
                return Err(format!("char range with category {}", range.cat));
            }
            ranges.push(range);
        }
        let mut unknown = vec![Vec::new(); ncat];
        for _ in 0..r.u16()? {
            let cat = r.u8()? as usize;
            let e = Entry {
                id: r.u16()?,
                cost: r.i16()?,
                reading: (0, 0),
            };
            unknown
                .get_mut(cat)
                .ok_or_else(|| format!("unknown-word entry with category {cat}"))?
                .push(e);
        }
        let nsurf = r.u32()? as usize;
        let mut surfaces = Vec::with_capacity(nsurf);
        let mut entries = Vec::with_capacity(nsurf * 5 / 4);
        let mut max_surface_chars = 0;
        for _ in 0..nsurf {
            let s = r.str_range()?;
            let chars = std::str::from_utf8(&data[s.0 as usize..s.1 as usize])
                .map(|t| t.chars().count())
                .unwrap_or(0);
            max_surface_chars = max_surface_chars.max(chars);
            let first = entries.len() as u32;
            for _ in 0..r.u8()? {
                entries.push(Entry {
                    id: r.u16()?,
                    cost: r.i16()?,
                    reading: r.str_range()?,
                });
            }
            surfaces.push((s, (first, entries.len() as u32)));
        }
        if r.pos != data.len() {
            return Err(format!("{} trailing bytes", data.len() - r.pos));
        }
        let ids_ok = entries
            .iter()
            .chain(unknown.iter().flatten())
            .all(|e| (e.id as usize) < lsize.min(rsize));
        if !ids_ok || ncat == 0 {
            return Err("context id out of range".into());
        }
        Ok(Self {
            data,
            lsize,
            matrix,
            categories,
            ranges,
            unknown,
            surfaces,
            entries,
            max_surface_chars,
        })
    }

    fn text(&self, (a, b): (u32, u32)) -> &str {
        std::str::from_utf8(&self.data[a as usize..b as usize]).unwrap_or("")
    }

    /// (default category, category mask) of a character; DEFAULT (0) when not in `char.def`.
    fn char_info(&self, c: char) -> (usize, u32) {
        let u = c as u32;
        let i = self.ranges.partition_point(|r| r.hi < u);
        match self.ranges.get(i) {
            Some(r) if r.lo <= u => (r.cat as usize, r.mask),
            _ => (0, 1),
        }
    }

    /// Dictionary entries whose surface is exactly `s`.
    fn lookup(&self, s: &str) -> &[Entry] {
        let key = s.as_bytes();
        match self
            .surfaces
            .binary_search_by(|(r, _)| self.data[r.0 as usize..r.1 as usize].cmp(key))
        {
            Ok(i) => {
                let (a, b) = self.surfaces[i].1;
                &self.entries[a as usize..b as usize]
            }
            Err(_) => &[],
        }
    }

    fn connection(&self, left: u16, right: u16) -> i64 {
        self.matrix
            .get(left as usize + self.lsize * right as usize)
            .copied()
            .unwrap_or(0) as i64
    }

    /// The best (lowest-cost) segmentation of `text` as MeCab finds it: the nodes in order.
    fn segment(&self, chars: &[char], offs: &[usize], text: &str) -> Vec<Node> {
        let n = chars.len();
        let space_mask = self.char_info(' ').1;
        let mut nodes: Vec<Node> = vec![Node {
            begin: 0,
            surface: 0,
            end: 0,
            id: BOS_EOS,
            reading: (0, 0),
            cost: 0,
            prev: 0,
        }];
        // Nodes ending at each position (index into `nodes`).
        let mut ends: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
        ends[0].push(0);
        let mut eos_prev: Vec<usize> = Vec::new();
        for pos in 0..n {
            if ends[pos].is_empty() {
                continue;
            }
            let mut p = pos;
            while p < n && self.char_info(chars[p]).1 & space_mask != 0 {
                p += 1;
            }
            if p == n {
                eos_prev.extend_from_slice(&ends[pos]);
                continue;
            }
            let mut cands: Vec<(usize, Entry)> = Vec::new();
            for len in 1..=self.max_surface_chars.min(n - p) {
                let s = &text[offs[p]..offs[p + len]];
                cands.extend(self.lookup(s).iter().map(|&e| (len, e)));
            }
            let (cat, mask) = self.char_info(chars[p]);
            let info = self.categories[cat];
            if info.invoke || cands.is_empty() {
                let before = cands.len();
                let unk = &self.unknown[cat];
                let compatible = |i: usize| self.char_info(chars[i]).1 & mask != 0;
                let mut group_len = None;
                if info.group {
                    let mut e = p + 1;
                    while e < n && compatible(e) {
                        e += 1;
                    }
                    if e - p - 1 <= MAX_GROUPING {
                        cands.extend(unk.iter().map(|&u| (e - p, u)));
                    }
                    group_len = Some(e - p);
                }
                for len in 1..=info.length {
                    if p + len > n || group_len == Some(len) {
                        break;
                    }
                    cands.extend(unk.iter().map(|&u| (len, u)));
                    if p + len >= n || !compatible(p + len) {
                        break;
                    }
                }
                if cands.len() == before && before == 0 {
                    cands.extend(unk.iter().map(|&u| (1, u)));
                }
            }
            for (len, e) in cands {
                let mut best = (i64::MAX, 0);
                for &k in &ends[pos] {
                    let c = nodes[k].cost + self.connection(nodes[k].id, e.id);
                    if c < best.0 {
                        best = (c, k);
                    }
                }
                ends[p + len].push(nodes.len());
                nodes.push(Node {
                    begin: pos,
                    surface: p,
                    end: p + len,
                    id: e.id,
                    reading: e.reading,
                    cost: best.0 + e.cost as i64,
                    prev: best.1,
                });
            }
        }
        eos_prev.extend_from_slice(&ends[n]);
        let Some(mut k) = eos_prev
            .iter()
            .copied()
            .min_by_key(|&k| nodes[k].cost + self.connection(nodes[k].id, BOS_EOS))
        else {
            return Vec::new();
        };
        let mut path = Vec::new();
        while k != 0 {
            path.push(nodes[k]);
            k = nodes[k].prev;
        }
        path.reverse();
        path
    }

    /// The reference's `hiragana_normalize` with IPADIC readings: every word containing a kanji
    /// (U+4E00..U+9FFF) becomes its hiragana reading (" " + reading when it starts with は or
    /// へ); everything else is kept as written; then NFKD.
    pub fn hiragana_normalize(&self, text: &str) -> String {
        let composed = normalize(text, NormalizedString::nfc);
        let offs: Vec<usize> = composed
            .char_indices()
            .map(|(i, _)| i)
            .chain([composed.len()])
            .collect();
        let chars: Vec<char> = composed.chars().collect();
        let mut words: Vec<Word> = Vec::new();
        let mut done = 0;
        for node in self.segment(&chars, &offs, &composed) {
            words.push(Word {
                gap: &composed[offs[node.begin]..offs[node.surface]],
                surface: &composed[offs[node.surface]..offs[node.end]],
                reading: Cow::Borrowed(self.text(node.reading)),
                absorbed: false,
            });
            done = node.end;
        }
        numeral_readings(&mut words);
        let mut out = String::with_capacity(composed.len() * 2);
        for w in words.iter().filter(|w| !w.absorbed) {
            out.push_str(w.gap);
            if has_kanji(w.surface) && !w.reading.is_empty() {
                if w.reading.starts_with(['は', 'へ']) {
                    out.push(' ');
                }
                out.push_str(&w.reading);
            } else {
                out.push_str(w.surface);
            }
        }
        out.push_str(&composed[offs[done]..]);
        normalize(&out, NormalizedString::nfkd)
    }
}

/// A word of the best path: the spaces skipped before it, its text and its reading.
struct Word<'a> {
    gap: &'a str,
    surface: &'a str,
    reading: Cow<'a, str>,
    /// Part of the previous word's reading (a numeral + counter read as one word).
    absorbed: bool,
}

/// Characters of IPADIC's numeral words (名詞,数), which it reads one character at a time.
const NUMERALS: &str = "〇一二三四五六七八九十百千万億兆";

/// Numeral + counter words whose reading is not the sum of the parts, read as one word when the
/// numeral stands alone (`十一人` stays じゅういちにん).
const COUNTED: [(&str, &str); 12] = [
    ("一人", "ひとり"),
    ("二人", "ふたり"),
    ("二日", "ふつか"),
    ("三日", "みっか"),
    ("四日", "よっか"),
    ("五日", "いつか"),
    ("六日", "むいか"),
    ("七日", "なのか"),
    ("八日", "ようか"),
    ("九日", "ここのか"),
    ("十日", "とおか"),
    ("二十日", "はつか"),
];

/// A sound change: (numeral, unit) → (the numeral's reading if it changes, the unit's reading).
type SoundChange = (
    (&'static str, &'static str),
    (Option<&'static str>, &'static str),
);

/// The sound changes of 百 and 千 after 三, 六 and 八.
const SOUND_CHANGES: [SoundChange; 5] = [
    (("三", "百"), (None, "びゃく")),
    (("六", "百"), (Some("ろっ"), "ぴゃく")),
    (("八", "百"), (Some("はっ"), "ぴゃく")),
    (("三", "千"), (None, "ぜん")),
    (("八", "千"), (Some("はっ"), "せん")),
];

fn is_numeral(w: &Word) -> bool {
    !w.surface.is_empty() && w.surface.chars().all(|c| NUMERALS.contains(c))
}

/// The one place we depart from MeCab's readings: IPADIC reads numerals character by character
/// (`一人` いちにん, `三日` さんにち, `八百` はちひゃく, `三千` さんせん); the common lexicalised
/// numeral + counter words ([`COUNTED`]) and the sound changes of 百/千 ([`SOUND_CHANGES`]) are
/// applied to adjacent words of the best path.
fn numeral_readings(words: &mut [Word]) {
    for i in 1..words.len() {
        if !words[i].gap.is_empty() || !is_numeral(&words[i - 1]) {
            continue;
        }
        let pair = (words[i - 1].surface, words[i].surface);
        if let Some(&(_, (prev, unit))) = SOUND_CHANGES.iter().find(|(k, _)| *k == pair) {
            if let Some(p) = prev {
                words[i - 1].reading = Cow::Borrowed(p);
            }
            words[i].reading = Cow::Borrowed(unit);
        }
    }
    let mut i = 0;
    while i < words.len() {
        if !is_numeral(&words[i]) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < words.len() && words[j].gap.is_empty() && is_numeral(&words[j]) {
            j += 1;
        }
        if j < words.len() && words[j].gap.is_empty() {
            let key: String = words[i..=j].iter().map(|w| w.surface).collect();
            if let Some(&(_, r)) = COUNTED.iter().find(|(k, _)| *k == key) {
                words[i].reading = Cow::Borrowed(r);
                for w in &mut words[i + 1..=j] {
                    w.absorbed = true;
                }
            }
        }
        i = j;
    }
}

fn normalize(text: &str, f: fn(&mut NormalizedString) -> &mut NormalizedString) -> String {
    let mut n = NormalizedString::from(text);
    f(&mut n);
    n.get().to_string()
}

/// Whether `s` has a character in the reference's kanji range (CJK Unified Ideographs).
fn has_kanji(s: &str) -> bool {
    s.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c))
}

/// `hiragana_normalize` with the embedded dictionary (decoded on the first text with a kanji);
/// if it cannot be decoded (a build defect, reported once) the text is returned unchanged, the
/// reference's path without pykakasi.
pub fn hiragana_normalize(text: &str) -> String {
    if !has_kanji(text) {
        return normalize(text, NormalizedString::nfkd);
    }
    match JaDict::embedded() {
        Ok(d) => d.hiragana_normalize(text),
        Err(e) => {
            static WARNED: OnceLock<()> = OnceLock::new();
            WARNED.get_or_init(|| tracing::error!("{e}; Japanese kanji are kept as written"));
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nfc(s: &str) -> String {
        normalize(s, NormalizedString::nfc)
    }

    #[test]
    fn embedded_dictionary_loads() -> Result<(), String> {
        let d = JaDict::embedded()?;
        assert!(d.surfaces.len() > 300_000, "{d:?}");
        assert_eq!(d.lookup("東京").len(), 1);
        assert!(d.lookup("東京都庁舎ビル").is_empty());
        Ok(())
    }

    #[test]
    fn kanji_words_become_hiragana() {
        let cases = [
            ("日本語のテキストです。", "にほんごのテキストです。"),
            ("私は学生です", "わたしはがくせいです"),
            ("カタカナとひらがな、漢字", "カタカナとひらがな、かんじ"),
            (
                "この料理は辛すぎて食べられない。",
                "このりょうりはつらすぎてたべられない。",
            ),
            // は/へ readings get the reference's leading space.
            (
                "父は銀行で働いています。",
                "ちちはぎんこうで はたらいています。",
            ),
            (
                "母は毎日花に水をやる。",
                " はははまいにち はなにみずをやる。",
            ),
        ];
        for (input, want) in cases {
            let got = hiragana_normalize(&nfkd(input));
            assert_eq!(nfc(&got), want, "{input}");
            assert_eq!(got, nfkd(&got), "output is NFKD");
        }
    }

    fn nfkd(s: &str) -> String {
        normalize(s, NormalizedString::nfkd)
    }

    #[test]
    fn numerals_and_counters() {
        let cases = [
            ("一人で二人の三日間", "ひとりでふたりのさんにちかん"),
            (
                "十一人と四月二十日と三日",
                "じゅういちにんとしがつ はつかとみっか",
            ),
            (
                "八百八十円、三千六百人",
                " はっぴゃく はちじゅうえん、さんぜんろっぴゃくにん",
            ),
            ("一日と十一日", "いちにちとじゅういちにち"),
        ];
        for (input, want) in cases {
            assert_eq!(nfc(&hiragana_normalize(&nfkd(input))), want, "{input}");
        }
    }

    #[test]
    fn kanji_free_text_and_spaces_are_kept() {
        for s in [
            "",
            "  ",
            "wi-fiのパスワード",
            "カタカナ と がぎぐげご.",
            "abc  def ",
        ] {
            assert_eq!(hiragana_normalize(&nfkd(s)), nfkd(s), "{s:?}");
        }
        // Spaces around and between words survive; unknown kanji stay as written.
        let got = hiragana_normalize(&nfkd(" 東京  大阪 "));
        assert_eq!(nfc(&got), " とうきょう  おおさか ");
        assert_eq!(nfc(&hiragana_normalize("\u{9FEE}")), "\u{9FEE}");
    }
}
