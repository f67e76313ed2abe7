/// The sentence returned for empty input (the reference's choice).
pub const EMPTY_TEXT_REPLACEMENT: &str = "You need to add some text for me to talk.";

/// Python's `str.isspace` for one code point: Unicode White_Space plus the four ASCII
/// information separators U+001C..U+001F that Python also splits on.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.islower` for a one-character string: the character is cased and lowercase.
fn py_islower(c: char) -> bool {
    c.is_lowercase()
}

const REPLACEMENTS: [(&str, &str); 12] = [
    ("...", ", "),
    ("\u{2026}", ", "),
    (":", ","),
    (" - ", ", "),
    (";", ", "),
    ("\u{2014}", "-"),
    ("\u{2013}", "-"),
    (" ,", ","),
    ("\u{201c}", "\""),
    ("\u{201d}", "\""),
    ("\u{2018}", "'"),
    ("\u{2019}", "'"),
];

/// Chatterbox-Turbo's table (`tts_turbo.py:45-55`): the original's without `...`, ` - ` and `;`.
const TURBO_REPLACEMENTS: [(&str, &str); 9] = [
    ("\u{2026}", ", "),
    (":", ","),
    ("\u{2014}", "-"),
    ("\u{2013}", "-"),
    (" ,", ","),
    ("\u{201c}", "\""),
    ("\u{201d}", "\""),
    ("\u{2018}", "'"),
    ("\u{2019}", "'"),
];

/// Chatterbox's `punc_norm`, rule for rule and in the same order:
/// empty → a fixed sentence; capitalise a lowercase first character (before whitespace is
/// collapsed, so a leading space prevents it); collapse whitespace runs to one space and trim;
/// twelve literal replacements in order; strip trailing spaces; end with `.` unless the text ends
/// with one of `. ! ? - ,`.
pub fn punc_norm(text: &str) -> String {
    punc_norm_with(text, &REPLACEMENTS, &[])
}

/// [`punc_norm`] where `extra_enders` also count as final punctuation (Chatterbox
/// Multilingual's CJK marks).
pub(crate) fn punc_norm_enders(text: &str, extra_enders: &[char]) -> String {
    punc_norm_with(text, &REPLACEMENTS, extra_enders)
}

/// Chatterbox-Turbo's `punc_norm` (`tts_turbo.py:29-65`): the same algorithm as [`punc_norm`] with
/// nine replacements (`…`, `:`, `—`, `–`, ` ,`, curly quotes); `...`, ` - ` and `;` are kept.
pub fn punc_norm_turbo(text: &str) -> String {
    punc_norm_with(text, &TURBO_REPLACEMENTS, &[])
}

fn punc_norm_with(text: &str, replacements: &[(&str, &str)], extra_enders: &[char]) -> String {
    if text.is_empty() {
        return EMPTY_TEXT_REPLACEMENT.to_string();
    }
    let mut chars = text.chars();
    let capitalised: String = match chars.next() {
        Some(c) if py_islower(c) => c.to_uppercase().chain(chars).collect(),
        _ => text.to_string(),
    };
    let mut s = capitalised
        .split(py_isspace)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    for &(from, to) in replacements {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    let trimmed_len = s.trim_end_matches(' ').len();
    s.truncate(trimmed_len);
    if !['.', '!', '?', '-', ',']
        .iter()
        .chain(extra_enders)
        .any(|&p| s.ends_with(p))
    {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples() {
        assert_eq!(punc_norm(""), EMPTY_TEXT_REPLACEMENT);
        assert_eq!(punc_norm("  multiple   spaces"), "multiple spaces.");
        assert_eq!(punc_norm("world... it's"), "World,  it's.");
        assert_eq!(punc_norm("a \u{2014} b"), "A - b.");
        assert_eq!(punc_norm("\u{df}trasse"), "SStrasse.");
        assert_eq!(punc_norm("   "), ".");
        assert_eq!(punc_norm("Done!"), "Done!");
    }

    #[test]
    fn turbo_examples() {
        assert_eq!(
            punc_norm_turbo("hello... world; yes - no: ok\u{2026}"),
            "Hello... world; yes - no, ok,"
        );
        assert_eq!(
            punc_norm_turbo("end with ellipsis..."),
            "End with ellipsis..."
        );
        assert_eq!(
            punc_norm_turbo("[laugh] that is funny"),
            "[laugh] that is funny."
        );
    }
}
