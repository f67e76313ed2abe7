//! `AlignmentStreamAnalyzer` of Chatterbox Multilingual
//! (`models/t3/inference/alignment_stream_analyzer.py`): from the attention of three
//! (layer, head) pairs of the conditional row, it follows where in the text the speech is, forbids
//! EOS before the end of the text and forces EOS on a long tail, a repeated alignment or a
//! repeated token. Step for step the reference's algorithm (spec `chatterbox-multilingual.md`
//! §5.3), with one defined case where the reference crashes: with five or fewer text tokens the
//! alignment-repetition test is false instead of an `IndexError`.

/// `LLAMA_ALIGNED_HEADS`: (layer, head), 0-based.
pub const LLAMA_ALIGNED_HEADS: [(usize, usize); 3] = [(12, 15), (13, 11), (9, 2)];

/// Logit value the reference writes for a forbidden / forced token (`±2**15`).
const BIG: f32 = 32768.0;

/// What one step decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlignmentStep {
    /// Text column the newest frame attends to most (after the monotonic mask).
    pub text_position: usize,
    /// The smoothed position (the argmax, unless it jumped too far from the previous one).
    pub position: usize,
    pub false_start: bool,
    pub complete: bool,
    pub long_tail: bool,
    pub alignment_repetition: bool,
    pub token_repetition: bool,
    /// EOS was forbidden (the speech has not reached the end of the text).
    pub eos_suppressed: bool,
    /// Every token but EOS was forbidden.
    pub eos_forced: bool,
}

/// The analyzer's state for one generation.
#[derive(Debug, Clone)]
pub struct AlignmentStreamAnalyzer {
    /// Text columns `[i0, j)` of the attention rows.
    i0: usize,
    j: usize,
    eos: u32,
    /// Alignment matrix, one row of `j - i0` columns per frame.
    rows: Vec<Vec<f32>>,
    frame: usize,
    position: usize,
    started: bool,
    complete: bool,
    completed_at: Option<usize>,
    recent: Vec<u32>,
}

impl AlignmentStreamAnalyzer {
    /// For a prefix whose text tokens (with SOT/EOT) occupy positions `text_start..text_end`.
    pub fn new(text_start: usize, text_end: usize, eos: u32) -> Self {
        Self {
            i0: text_start,
            j: text_end.max(text_start),
            eos,
            rows: Vec::new(),
            frame: 0,
            position: 0,
            started: false,
            complete: false,
            completed_at: None,
            recent: Vec::new(),
        }
    }

    /// Text columns `S`.
    pub fn text_len(&self) -> usize {
        self.j - self.i0
    }

    /// Which attention rows the next step needs: at the first step every prefix row from the
    /// end of the text on (the BOS rows), later only the newest row.
    pub fn rows_needed(&self, rows_available: usize) -> std::ops::Range<usize> {
        if self.frame == 0 {
            self.j.min(rows_available)..rows_available
        } else {
            rows_available.saturating_sub(1)..rows_available
        }
    }

    /// One step. `attn` are the rows [`Self::rows_needed`] selects of the mean of the aligned
    /// heads' attention probabilities (each row at least `text_end` long); `logits` are the
    /// CFG-combined logits, changed in place; `last_token` is the last id fed back (the BOS
    /// 6561 at the first step).
    pub fn step(
        &mut self,
        attn: &[Vec<f32>],
        logits: &mut [f32],
        last_token: u32,
    ) -> AlignmentStep {
        let s = self.text_len();
        let mut last_argmax = 0usize;
        for row in attn {
            let mut chunk: Vec<f32> = (self.i0..self.j)
                .map(|c| row.get(c).copied().unwrap_or(0.0))
                .collect();
            for v in chunk.iter_mut().skip(self.frame + 1) {
                *v = 0.0;
            }
            self.rows.push(chunk);
        }
        if let Some(last) = attn.last().and(self.rows.last()) {
            last_argmax = argmax_first(last);
        }
        let c = last_argmax;
        let (ci, pi) = (c as i64, self.position as i64);
        if -4 < ci - pi && ci - pi < 7 {
            self.position = c;
        }
        let t = self.rows.len();
        let max_over = |r0: usize, c0: usize, c1: usize| -> f32 {
            self.rows[r0..]
                .iter()
                .flat_map(|r| r[c0..c1].iter().copied())
                .fold(f32::NEG_INFINITY, f32::max)
        };
        let false_start = !self.started
            && (max_over(t.saturating_sub(2), s.saturating_sub(2), s) > 0.1
                || max_over(0, 0, s.min(4)) < 0.5);
        self.started = !false_start;
        self.complete = self.complete || self.position + 3 >= s;
        if self.complete && self.completed_at.is_none() {
            self.completed_at = Some(t);
        }
        let tail_rows = self
            .completed_at
            .map_or(&self.rows[t..], |a| &self.rows[a.min(t)..]);
        let long_tail = self.complete
            && (s.saturating_sub(3)..s)
                .map(|col| tail_rows.iter().map(|r| r[col]).sum::<f32>())
                .fold(0.0f32, f32::max)
                >= 5.0;
        let alignment_repetition = self.complete
            && s > 5
            && tail_rows
                .iter()
                .map(|r| r[..s - 5].iter().copied().fold(f32::NEG_INFINITY, f32::max))
                .sum::<f32>()
                > 5.0;
        self.recent.push(last_token);
        if self.recent.len() > 8 {
            self.recent.remove(0);
        }
        let n = self.recent.len();
        let token_repetition = n >= 3 && self.recent[n - 1] == self.recent[n - 2];
        let eos = self.eos as usize;
        let eos_suppressed = s > 5 && c + 3 < s;
        if eos_suppressed {
            if let Some(l) = logits.get_mut(eos) {
                *l = -BIG;
            }
        }
        let eos_forced = long_tail || alignment_repetition || token_repetition;
        if eos_forced {
            logits.iter_mut().for_each(|l| *l = -BIG);
            if let Some(l) = logits.get_mut(eos) {
                *l = BIG;
            }
        }
        self.frame += 1;
        AlignmentStep {
            text_position: c,
            position: self.position,
            false_start,
            complete: self.complete,
            long_tail,
            alignment_repetition,
            token_repetition,
            eos_suppressed,
            eos_forced,
        }
    }
}

/// `torch.argmax`: the first maximal index.
fn argmax_first(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eos_is_forbidden_until_the_end_of_the_text_then_forced_on_a_repeat() {
        // 10 text columns at 2..12; prefix of 14 rows (2 BOS rows).
        let mut a = AlignmentStreamAnalyzer::new(2, 12, 6562);
        let row = |col: usize, len: usize| -> Vec<f32> {
            let mut r = vec![0.0; len];
            r[2 + col] = 1.0;
            r
        };
        let mut logits = vec![0.0f32; 6563];
        let st = a.step(&[row(0, 14), row(0, 14)], &mut logits, 6561);
        assert!(st.eos_suppressed && !st.eos_forced);
        assert_eq!(logits[6562], -32768.0);
        let mut logits = vec![0.0f32; 6563];
        let st = a.step(&[row(1, 15)], &mut logits, 5);
        assert_eq!(st.text_position, 1);
        // Two equal tokens in a row force EOS.
        let mut logits = vec![0.0f32; 6563];
        let st = a.step(&[row(2, 16)], &mut logits, 5);
        assert!(st.token_repetition && st.eos_forced);
        assert_eq!(logits[6562], 32768.0);
        assert_eq!(logits[0], -32768.0);
    }

    #[test]
    fn short_texts_do_not_crash() {
        let mut a = AlignmentStreamAnalyzer::new(0, 4, 2);
        let mut logits = vec![0.0f32; 3];
        for (k, tok) in [9u32, 1, 2, 3, 4, 5].into_iter().enumerate() {
            let rows = if k == 0 {
                vec![vec![0.25; 6], vec![0.25; 6]]
            } else {
                vec![vec![0.25; 6 + k]]
            };
            let st = a.step(&rows, &mut logits, tok);
            assert!(!st.alignment_repetition && !st.eos_suppressed);
        }
    }
}
