//! Within-sentence streaming on the tiny checkpoint: `generate_stream` hands out several pieces
//! while T3 decodes, their concatenation lasts exactly as long as `generate`'s output for the same
//! seed (the same tokens), is reproducible, joins without clicks, and stops when asked.

use chatterbox::pipeline::{Chatterbox, GenerateParams, StreamOptions};
use chatterbox::Error;
use chatterbox_testkit::tiny::write_tiny_checkpoint;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The tiny checkpoint, written once per test process: the tests run in parallel threads, and a
/// second writer would truncate files the first one is reading.
fn model() -> anyhow::Result<Chatterbox> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("cbx-stream-test-{}", std::process::id()));
            write_tiny_checkpoint(&dir, 0)
                .map(|()| dir)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(anyhow::Error::msg)?;
    Ok(Chatterbox::load(&dir)?)
}

const TEXT: &str = "Streaming hands out audio while the sentence is still being decoded.";

fn stream(
    model: &Chatterbox,
    params: &GenerateParams,
    opts: &StreamOptions,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut pieces = Vec::new();
    model.generate_stream(TEXT, None, params, opts, &|| false, &mut |s| pieces.push(s))?;
    Ok(pieces)
}

fn max_jump(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

#[test]
fn pieces_come_early_and_add_up_to_the_utterance() -> anyhow::Result<()> {
    let model = model()?;
    let params = GenerateParams {
        seed: Some(3),
        max_new_tokens: 60,
        ..GenerateParams::default()
    };
    let whole = model.generate(TEXT, None, &params, &|| false)?;
    for context in [0, 10] {
        let opts = StreamOptions {
            first_tokens: 12,
            chunk_tokens: 10,
            context_tokens: context,
            prompt_tokens: 0,
            chunks: 1,
        };
        let pieces = stream(&model, &params, &opts)?;
        let lens: Vec<usize> = pieces.iter().map(Vec::len).collect();
        assert!(pieces.len() >= 4, "pieces {lens:?}");
        assert!(lens[..lens.len() - 1].iter().all(|&n| n > 0), "{lens:?}");
        let out = pieces.concat();
        assert_eq!(out.len(), whole.len(), "same tokens, same duration");
        assert!(out.iter().all(|x| x.is_finite()));
        // The output fade: the first 20 ms are silent, as generate's.
        assert!(out[..480].iter().all(|&x| x == 0.0));
        // Reproducible.
        assert_eq!(stream(&model, &params, &opts)?.concat(), out);
        // No click at a join: the largest step around each join stays within the signal's own.
        let own = max_jump(&whole[960..]);
        let mut at = 0;
        for n in &lens[..lens.len() - 1] {
            at += n;
            let (a, b) = (at.saturating_sub(48), (at + 48).min(out.len()));
            let jump = max_jump(&out[a..b]);
            assert!(
                jump <= 1.5 * own + 1e-3,
                "join at {at}: step {jump} vs {own}"
            );
        }
    }
    // One piece (the threshold never reached): the same S3Gen on the whole sequence.
    let one = StreamOptions {
        first_tokens: 10_000,
        ..StreamOptions::default()
    };
    let pieces = stream(&model, &params, &one)?;
    assert_eq!(pieces.len(), 1);
    assert_eq!(pieces[0].len(), whole.len());
    Ok(())
}

#[test]
fn streaming_stops_when_asked_and_checks_its_options() -> anyhow::Result<()> {
    let model = model()?;
    let params = GenerateParams {
        seed: Some(1),
        max_new_tokens: 40,
        ..GenerateParams::default()
    };
    let opts = StreamOptions {
        first_tokens: 10,
        chunk_tokens: 10,
        ..StreamOptions::default()
    };
    let got = std::cell::Cell::new(0usize);
    let r = model.generate_stream(TEXT, None, &params, &opts, &|| got.get() > 0, &mut |s| {
        got.set(got.get() + s.len());
    });
    // Cancelled once the first piece is out.
    assert!(got.get() > 0);
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    let bad = StreamOptions {
        first_tokens: 2,
        ..StreamOptions::default()
    };
    let r = model.generate_stream(TEXT, None, &params, &bad, &|| false, &mut |_| {});
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    Ok(())
}

#[test]
fn long_text_streams_within_the_first_chunks() -> anyhow::Result<()> {
    use chatterbox::ChunkOptions;
    let model = model()?;
    let params = GenerateParams {
        seed: Some(9),
        max_new_tokens: 40,
        ..GenerateParams::default()
    };
    let text = "The first sentence is long enough to stand alone here. \
                The second sentence follows it with a few more words.";
    let chunking = ChunkOptions::default();
    let all = StreamOptions {
        first_tokens: 10,
        chunk_tokens: 10,
        chunks: 0,
        ..StreamOptions::default()
    };
    type Run = (Vec<Vec<f32>>, Vec<(usize, usize)>);
    let run = |opts: &StreamOptions| -> anyhow::Result<Run> {
        let (mut pieces, mut progress) = (Vec::new(), Vec::new());
        model.generate_long_streamed(
            text,
            None,
            &params,
            &chunking,
            opts,
            &|| false,
            &mut |s, p| {
                pieces.push(s);
                progress.push((p.done, p.total));
            },
        )?;
        Ok((pieces, progress))
    };
    // Non-empty pieces handed out while chunk `i` was being spoken.
    let during = |(pieces, progress): &Run, i: usize| {
        progress
            .iter()
            .zip(pieces)
            .filter(|(p, s)| p.0 == i && !s.is_empty())
            .count()
    };
    let (pieces, progress) = run(&all)?;
    assert_eq!(progress.last(), Some(&(2, 2)));
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "{progress:?}"
    );
    let out = pieces.concat();
    let r = (pieces, progress);
    // Audio left while each chunk was still being spoken.
    assert!(during(&r, 0) >= 2 && during(&r, 1) >= 2, "{:?}", r.1);
    assert!(out.len() > 24_000 && out.iter().all(|x| x.is_finite()));
    assert_eq!(run(&all)?.0.concat(), out, "reproducible");
    // The default streams only the first chunk within; the second leaves whole.
    let first = StreamOptions { chunks: 1, ..all };
    let r = run(&first)?;
    assert!(during(&r, 0) >= 2 && during(&r, 1) == 0, "{:?}", r.1);
    assert_eq!(r.1.last(), Some(&(2, 2)));
    // The non-streamed long path is untouched by the option: it stays generate_long.
    let mut plain = Vec::new();
    model.generate_long(text, None, &params, &chunking, &|| false, &mut |s, _| {
        plain.extend(s)
    })?;
    assert!(!plain.is_empty());
    Ok(())
}
