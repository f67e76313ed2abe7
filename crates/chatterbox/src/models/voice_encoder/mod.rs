//! Voice encoder (`ve.safetensors`): a Resemblyzer-style 3-layer LSTM d-vector over 40-band mels.
//!
//! Pipeline of `embeds_from_wavs([wav16], 16000)`: silence trim (`librosa.effects.trim`,
//! top_db 20), linear power mel (T, 40), overlapping 160-frame partials (step 77), LSTM → last
//! hidden state → ReLU(proj) → L2 norm per partial, mean over partials → L2 norm → `(1, 256)`.

mod mel;
mod model;
mod trim;

pub use mel::melspectrogram;
pub use model::{VoiceEmbedding, VoiceEncoder, VoiceEncoderConfig};
pub use trim::trim_silence;

/// Sample rate of the voice encoder.
pub const SAMPLE_RATE: u32 = 16_000;
/// Mel bands.
pub const N_MELS: usize = 40;
/// Frames per partial window.
pub const PARTIAL_FRAMES: usize = 160;
/// Frame step between partials: `round((16000 / 1.3) / 160)` (the reference forces rate 1.3).
pub const PARTIAL_STEP: usize = 77;
/// Minimum coverage of the last partial.
pub const MIN_COVERAGE: f64 = 0.8;

/// `get_num_wins`: number of partials and the padded/cut frame count they cover.
pub fn num_partials(n_frames: usize) -> (usize, usize) {
    let (win, step) = (PARTIAL_FRAMES, PARTIAL_STEP);
    let span = (n_frames + step).saturating_sub(win);
    let (mut n, rem) = (span / step, span % step);
    if n == 0 || (rem + (win - step)) as f64 / win as f64 >= MIN_COVERAGE {
        n += 1;
    }
    (n, win + step * (n - 1))
}
