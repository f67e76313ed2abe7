//! Input validation and small invariants of the conditioning pipeline (no reference needed).

use candle_core::Device;
use chatterbox::conditioning::{Conditionals, ConditioningModels, MIN_REF_SECONDS};
use chatterbox::models::s3tokenizer::{fsq_id, n_tokens};
use chatterbox::models::voice_encoder::{num_partials, trim_silence};
use chatterbox::Error;
use chatterbox_testkit::manifest::Recorder;

/// The tiny checkpoint's networks with all-zero weights: enough to exercise the checks that run before them.
fn tiny_models() -> ConditioningModels {
    let rec = Recorder::new();
    let cfg = chatterbox_testkit::tiny::config().conditioning;
    ConditioningModels::load(rec.var_builder().pp("ve"), rec.var_builder(), cfg)
        .expect("tiny models build")
}

fn tone(seconds: f64, amp: f32) -> Vec<f32> {
    let n = (seconds * 24_000.0) as usize;
    (0..n)
        .map(|i| amp * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / 24_000.0).sin())
        .collect()
}

#[test]
fn too_short_silent_and_non_finite_clips_are_refused() {
    let m = tiny_models();
    let short = tone(MIN_REF_SECONDS * 0.9, 0.5);
    assert!(matches!(
        m.prepare_conditionals(&short, 0.5),
        Err(Error::InvalidAudio(msg)) if msg.contains("too short")
    ));
    assert!(matches!(
        m.embed_ref(&short),
        Err(Error::InvalidAudio(msg)) if msg.contains("too short")
    ));
    let silent = vec![0f32; 48_000];
    assert!(matches!(
        m.prepare_conditionals(&silent, 0.5),
        Err(Error::InvalidAudio(msg)) if msg.contains("silent")
    ));
    let mut nan = tone(2.0, 0.5);
    nan[100] = f32::NAN;
    assert!(matches!(
        m.prepare_conditionals(&nan, 0.5),
        Err(Error::InvalidAudio(msg)) if msg.contains("non-finite")
    ));
    assert!(matches!(
        m.prepare_conditionals(&tone(2.0, 0.5), f32::INFINITY),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn a_clip_of_the_minimum_length_gives_well_shaped_conditionals() {
    let m = tiny_models();
    let wav = tone(MIN_REF_SECONDS, 0.5);
    let c = m.prepare_conditionals(&wav, 0.7).expect("1 s clip works");
    c.validate().expect("shapes");
    // 24 000 samples → 50 mel frames at 24 kHz; 16 000 samples at 16 kHz → 100 frames → 25 tokens.
    assert_eq!(c.gen.prompt_feat.dims(), &[1, 50, 80]);
    assert_eq!(c.gen.prompt_token_len, 25);
    assert_eq!(c.t3.cond_prompt_speech_tokens.len(), 25);
}

#[test]
fn length_rules() {
    // ceil(ceil(T/2)/2)
    assert_eq!(n_tokens(1000), 250);
    assert_eq!(n_tokens(730), 183);
    assert_eq!(n_tokens(1), 1);
    // get_num_wins(n, step 77, coverage 0.8): (partials, covered frames), values printed by
    // the reference's own function.
    for (n, want) in [
        (1, (1, 160)),
        (160, (1, 160)),
        (236, (2, 237)),
        (237, (2, 237)),
        (250, (2, 237)),
        (441, (5, 468)),
        (1000, (12, 1007)),
    ] {
        assert_eq!(num_partials(n), want, "{n} frames");
    }
}

#[test]
fn trim_follows_librosa() {
    // Digital silence: every frame is 0 dB below the (zero) maximum, so librosa keeps it all.
    assert_eq!(trim_silence(&[0.0; 5000], 20.0), (0, 5000));
    assert_eq!(trim_silence(&[], 20.0), (0, 0));
    // A burst in the middle: kept range is frame-aligned (multiples of 512) around it.
    let mut x = vec![0f32; 20_000];
    for (i, v) in x.iter_mut().enumerate().skip(9_000).take(2_000) {
        *v = (i as f32 * 0.3).sin();
    }
    let (a, b) = trim_silence(&x, 20.0);
    assert_eq!(a % 512, 0);
    assert!(a <= 9_000 && (11_000..=20_000).contains(&b), "{a}..{b}");
}

#[test]
fn fsq_digits_round_half_to_even() {
    // tanh(z)·0.999 = ±0.5 exactly is impossible in f32 arithmetic, but values on either side
    // must land on the right digit; all-zero projections give digit 1 everywhere.
    let ones: u32 = (0..8).map(|i| 3u32.pow(i)).sum();
    assert_eq!(fsq_id(&[0.0; 8]), ones);
    assert_eq!(fsq_id(&[10.0; 8]), 2 * ones);
    assert_eq!(fsq_id(&[-10.0; 8]), 0);
    assert_eq!(fsq_id(&[0.56, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]), ones + 1);
    assert_eq!(fsq_id(&[0.54, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]), ones);
}

#[test]
fn reading_a_non_torch_file_as_conds_pt_fails_cleanly() {
    let dir = chatterbox_testkit::parity::default_dir();
    let err = Conditionals::load_pt(&dir.join("cond_e2e.safetensors"), &Device::Cpu);
    assert!(matches!(err, Err(Error::Checkpoint { .. })));
}
