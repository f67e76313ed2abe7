//! T3 Turbo on the tiny random-weight config: quantized GPT-2 projections track the f32 logits,
//! and generation guards (token ranges, positions) are errors, not panics.

use candle_core::{Device, Tensor};
use chatterbox::models::t3::{SamplingParams, T3Cond, T3Turbo};
use chatterbox::Quantization;
use chatterbox_testkit::random_weights::RandomWeights;
use chatterbox_testkit::tiny::turbo_config;

fn cond(prompt: usize) -> anyhow::Result<T3Cond> {
    Ok(T3Cond {
        speaker_emb: Tensor::randn(0f32, 0.1, (1, 256), &Device::Cpu)?,
        cond_prompt_speech_tokens: (0..prompt as u32).map(|i| (i * 131) % 6561).collect(),
        emotion_adv: 0.0,
    })
}

/// Quantized block projections (q8, q4) against f32 on the same random weights: teacher-forced
/// logits stay close and the most likely token mostly agrees.
#[test]
fn quantized_gpt2_tracks_the_f32_logits() -> anyhow::Result<()> {
    let cfg = turbo_config().t3_turbo;
    let weights = RandomWeights::new(17);
    let f32_model = T3Turbo::new(&cfg, &weights.var_builder())?;
    let text: Vec<u32> = (0..12u32).map(|i| (i * 23) % 276).collect();
    let prefix = f32_model.prefix_embeds(&f32_model.prepare_conditioning(&cond(20)?)?, &text)?;
    let forced: Vec<u32> = (0..40u32).map(|i| (i * 977) % 6561).collect();
    let want = f32_model.teacher_forced_logits(&prefix, &forced)?;
    let scale: f32 = want.abs()?.max_all()?.to_scalar()?;
    let want_top: Vec<u32> = want.argmax(2)?.flatten_all()?.to_vec1()?;
    // (bound on max abs error relative to the logits' scale, least top-1 agreement); the tiny
    // width 64 is not a multiple of 256, so q4 is Q4_0 here.
    for (q, rel, agree) in [(Quantization::Q8, 0.06, 0.85), (Quantization::Q4, 0.5, 0.4)] {
        let model = T3Turbo::new_quantized(&cfg, &weights.var_builder(), q)?;
        let got = model.teacher_forced_logits(&prefix, &forced)?;
        let err: f32 = (&got - &want)?.abs()?.max_all()?.to_scalar()?;
        let top: Vec<u32> = got.argmax(2)?.flatten_all()?.to_vec1()?;
        let same = top.iter().zip(&want_top).filter(|(a, b)| a == b).count();
        println!(
            "{q:?}: max abs error {err} (scale {scale}), top-1 {same}/{}",
            top.len()
        );
        assert!(err > 0.0, "{q:?}: the weights were not quantized");
        assert!(
            err < rel * scale,
            "{q:?}: max abs error {err} (scale {scale})"
        );
        assert!(
            same as f64 >= agree * top.len() as f64,
            "{q:?}: top-1 agreement {same}/{}",
            top.len()
        );
    }
    Ok(())
}

#[test]
fn bad_inputs_are_errors() -> anyhow::Result<()> {
    let cfg = turbo_config().t3_turbo;
    let model = T3Turbo::new(&cfg, &RandomWeights::new(3).var_builder())?;
    let p = SamplingParams {
        max_new_tokens: 4,
        ..Default::default()
    };
    // Text id outside the vocabulary, speech prompt id outside the speech vocabulary.
    assert!(model.generate(&cond(3)?, &[276], &p).is_err());
    let mut bad = cond(3)?;
    bad.cond_prompt_speech_tokens.push(6563);
    assert!(model.generate(&bad, &[1, 2], &p).is_err());
    // More positions than GPT-2 has: refused before any work.
    let long = SamplingParams {
        max_new_tokens: cfg.gpt2.n_positions,
        ..p.clone()
    };
    assert!(model.generate(&cond(3)?, &[1, 2], &long).is_err());
    // max_new_tokens caps the total; 0 yields nothing.
    let toks = model.generate(&cond(3)?, &[1, 2], &p)?.collect_tokens()?;
    assert!(!toks.is_empty() && toks.len() <= 4);
    let none = SamplingParams {
        max_new_tokens: 0,
        ..p
    };
    assert!(model
        .generate(&cond(3)?, &[1, 2], &none)?
        .collect_tokens()?
        .is_empty());
    Ok(())
}

/// Continuing a prefilled voice conditioning is the same computation as a whole prefill: the
/// same tokens, greedy and sampled, and the prefix can be continued again and again.
#[test]
fn a_prefilled_conditioning_gives_the_same_tokens() -> anyhow::Result<()> {
    let cfg = turbo_config().t3_turbo;
    let model = T3Turbo::new(&cfg, &RandomWeights::new(5).var_builder())?;
    let c = cond(30)?;
    let prefix = model.prefill_conditioning(&c)?;
    assert_eq!(prefix.len(), 31, "speaker + 30 prompt tokens");
    for (temperature, text_len) in [(0.0, 10u32), (0.8, 10), (0.8, 3)] {
        let text: Vec<u32> = (0..text_len).map(|i| (i * 29) % 276).collect();
        let p = SamplingParams {
            temperature,
            max_new_tokens: 30,
            seed: 4,
            top_k: Some(1000),
            top_p: 0.95,
            ..Default::default()
        };
        let want = model.generate(&c, &text, &p)?.collect_tokens()?;
        for _ in 0..2 {
            let got = model.generate_after(&prefix, &text, &p)?.collect_tokens()?;
            assert_eq!(
                got, want,
                "temperature {temperature}, {text_len} text tokens"
            );
        }
    }
    Ok(())
}
