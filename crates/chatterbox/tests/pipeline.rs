//! The whole pipeline on the tiny random-weight checkpoint of the real architecture: seeded
//! determinism, and cancellation honoured at every poll point, including inside S3Gen (the CFM's
//! Euler steps and the vocoder's stages), not just between T3 steps.

use chatterbox::pipeline::{Chatterbox, GenerateParams};
use chatterbox::Error;
use chatterbox_testkit::tiny::write_tiny_checkpoint;
use std::cell::Cell;

fn model() -> anyhow::Result<(Chatterbox, std::path::PathBuf)> {
    model_in("cancel")
}

/// The tiny checkpoint in a directory of its own per test (they run in parallel).
fn model_in(test: &str) -> anyhow::Result<(Chatterbox, std::path::PathBuf)> {
    let dir = std::env::temp_dir().join(format!("cbx-pipeline-test-{}-{test}", std::process::id()));
    write_tiny_checkpoint(&dir, 0)?;
    Ok((Chatterbox::load(&dir)?, dir))
}

fn params() -> GenerateParams {
    GenerateParams {
        seed: Some(7),
        max_new_tokens: 12,
        ..GenerateParams::default()
    }
}

#[test]
fn generation_is_seeded_and_cancellable_everywhere() -> anyhow::Result<()> {
    let (model, dir) = model()?;
    let text = "Cancel me at any point.";

    // A full run: count the cancellation polls.
    let polls = Cell::new(0usize);
    let wav = model.generate(text, None, &params(), &|| {
        polls.set(polls.get() + 1);
        false
    })?;
    let total = polls.get();
    assert!(!wav.is_empty() && wav.iter().all(|v| v.is_finite()));
    let again = model.generate(text, None, &params(), &|| false)?;
    assert_eq!(wav, again, "same seed, same audio");

    // T3 polls once per generated token (at most 12) plus once before S3Gen; S3Gen must add one
    // poll per Euler step and per vocoder stage on top of that.
    let cfg = chatterbox_testkit::tiny::config();
    let euler = cfg.s3gen.flow.n_timesteps;
    let stages = cfg.s3gen.hift.upsample_rates.len() + 2;
    assert!(
        total >= 1 + euler + stages,
        "{total} polls: S3Gen is not polling (expected >= {} inside it)",
        euler + stages
    );

    // Stopping at the k-th poll, for each of the last euler + stages polls (all inside S3Gen) and
    // the first one (inside T3), ends the call with Cancelled and polls no further.
    let inside_s3gen = (total - euler - stages + 1)..=total;
    for k in std::iter::once(1).chain(inside_s3gen) {
        let seen = Cell::new(0usize);
        let out = model.generate(text, None, &params(), &|| {
            seen.set(seen.get() + 1);
            seen.get() >= k
        });
        assert!(
            matches!(out, Err(Error::Cancelled)),
            "stop at poll {k} of {total}: {:?}",
            out.map(|w| w.len())
        );
        assert_eq!(seen.get(), k, "work went on after the stop at poll {k}");
    }
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// `cfm_steps` and `s3gen_prompt_seconds` reach S3Gen: fewer Euler steps poll fewer times and
/// change the audio; a shorter prompt changes the audio; neither changes T3's tokens (so the
/// length); the defaults are the reference's configuration.
#[test]
fn s3gen_speed_options_take_effect() -> anyhow::Result<()> {
    let (model, dir) = model_in("options")?;
    let text = "Fewer steps, shorter prompt.";
    let run = |p: &GenerateParams| -> anyhow::Result<(Vec<f32>, usize)> {
        let polls = Cell::new(0usize);
        let wav = model.generate(text, None, p, &|| {
            polls.set(polls.get() + 1);
            false
        })?;
        Ok((wav, polls.get()))
    };
    let euler = chatterbox_testkit::tiny::config().s3gen.flow.n_timesteps;
    let (base, polls) = run(&params())?;
    let steps = 3;
    let (fewer, fewer_polls) = run(&GenerateParams {
        cfm_steps: steps,
        ..params()
    })?;
    assert_eq!(
        fewer_polls + euler,
        polls + steps,
        "one poll per Euler step"
    );
    assert_eq!(fewer.len(), base.len());
    assert_ne!(fewer, base);
    let (short, short_polls) = run(&GenerateParams {
        s3gen_prompt_seconds: 1.0,
        ..params()
    })?;
    assert_eq!((short.len(), short_polls), (base.len(), polls));
    assert_ne!(short, base, "a 1 s prompt (25 tokens) changes the audio");
    assert!(model
        .generate(
            text,
            None,
            &GenerateParams {
                cfm_steps: 0,
                ..params()
            },
            &|| false
        )
        .is_err());
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
