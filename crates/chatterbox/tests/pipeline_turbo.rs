//! Chatterbox-Turbo end to end on the tiny random-weight Turbo checkpoint: detection, the Turbo
//! defaults, seeded determinism, the three appended silence tokens, tags in the text, the voice
//! rules (longer than 5 s, loudness-normalised), cancellation inside the two-step S3Gen.

use chatterbox::audio::Audio;
use chatterbox::pipeline::{Chatterbox, GenerateParams, Variant};
use chatterbox::Error;
use chatterbox_testkit::tiny::{write_tiny_turbo_checkpoint, TINY_GPT2_VOCAB};
use std::cell::Cell;

fn model(name: &str) -> anyhow::Result<(Chatterbox, std::path::PathBuf)> {
    let dir = std::env::temp_dir().join(format!("cbx-turbo-{name}-{}", std::process::id()));
    write_tiny_turbo_checkpoint(&dir, 0)?;
    Ok((Chatterbox::load(&dir)?, dir))
}

fn params(n: usize) -> GenerateParams {
    GenerateParams {
        seed: Some(3),
        max_new_tokens: n,
        ..Variant::Turbo.default_params()
    }
}

fn tone(seconds: f32, amp: f32) -> Audio {
    let n = (seconds * 24000.0) as usize;
    Audio {
        samples: (0..n)
            .map(|i| {
                let t = i as f32 / 24000.0;
                amp * (2.0 * std::f32::consts::PI * 150.0 * t).sin()
                    * (0.6 + 0.4 * (2.0 * std::f32::consts::PI * 3.0 * t).sin())
            })
            .collect(),
        sample_rate: 24000,
    }
}

#[test]
fn turbo_directory_is_detected_and_generates() -> anyhow::Result<()> {
    let (model, dir) = model("generate")?;
    assert_eq!(Variant::detect(&dir)?, Variant::Turbo);
    assert_eq!(model.variant(), Variant::Turbo);
    // A directory cannot be loaded as the other variant.
    assert!(
        Chatterbox::load_variant_with(&dir, Some(Variant::Original), &Default::default()).is_err()
    );

    let text = "Hello there [laugh] how are you?";
    let wav = model.generate(text, None, &params(8), &|| false)?;
    // At most 8 speech tokens + 3 silence tokens, 2 mel frames each, 480 samples a frame.
    assert!(
        !wav.is_empty() && wav.len() <= (8 + 3) * 2 * 480,
        "{}",
        wav.len()
    );
    assert_eq!(wav.len() % 960, 0, "{}", wav.len());
    assert!(wav.len() >= 4 * 960, "three silence tokens are appended");
    assert!(wav.iter().all(|v| v.is_finite()));
    assert_eq!(wav, model.generate(text, None, &params(8), &|| false)?);
    assert_ne!(
        wav,
        model.generate(
            text,
            None,
            &GenerateParams {
                seed: Some(4),
                ..params(8)
            },
            &|| false
        )?
    );
    // Parameters Turbo does not have are ignored, whatever their value.
    let ignored = GenerateParams {
        cfg_weight: 0.9,
        exaggeration: 1.5,
        min_p: 0.3,
        ..params(8)
    };
    assert_eq!(wav, model.generate(text, None, &ignored, &|| false)?);
    // Out-of-range values of the ones it has are still errors.
    let bad = GenerateParams {
        top_p: 0.0,
        ..params(8)
    };
    assert!(matches!(
        model.generate(text, None, &bad, &|| false),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(TINY_GPT2_VOCAB, 276);
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn turbo_voices_and_cancellation() -> anyhow::Result<()> {
    let (model, dir) = model("voices")?;
    // The reference refuses clips of 5 s or less.
    assert!(matches!(
        model.prepare_conditionals(&tone(5.0, 0.3), 0.0),
        Err(Error::InvalidAudio(_))
    ));
    // Loudness normalisation makes the voice independent of the clip's level.
    let a = model.prepare_conditionals(&tone(5.5, 0.3), 0.0)?;
    let b = model.prepare_conditionals(&tone(5.5, 0.05), 0.0)?;
    let diff = (&a.gen.prompt_feat - &b.gen.prompt_feat)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    assert!(diff < 1e-3, "prompt mel differs by {diff} between levels");
    assert_eq!(
        a.t3.cond_prompt_speech_tokens,
        b.t3.cond_prompt_speech_tokens
    );

    // Cancellation: S3Gen polls once per Euler step (2) and vocoder stage; stopping at the last
    // poll ends the call with Cancelled.
    let polls = Cell::new(0usize);
    model.generate("Stop.", Some(&a), &params(6), &|| {
        polls.set(polls.get() + 1);
        false
    })?;
    let total = polls.get();
    assert!(total >= 2 + 3, "{total} polls");
    let seen = Cell::new(0usize);
    let out = model.generate("Stop.", Some(&a), &params(6), &|| {
        seen.set(seen.get() + 1);
        seen.get() >= total
    });
    assert!(matches!(out, Err(Error::Cancelled)));
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
