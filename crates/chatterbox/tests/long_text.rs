//! Long text on the tiny checkpoint: `generate_long` speaks every chunk, in order, each as
//! `generate` speaks it alone with the chunk's own seed (trimmed and joined), and hands the audio
//! out chunk by chunk.

use chatterbox::pipeline::{
    chunk_seed, max_tokens_for, pause_after, trim_silence, Chatterbox, GenerateParams, Joiner,
};
use chatterbox::text::split_text;
use chatterbox::{ChunkOptions, Error, S3GEN_SR};
use chatterbox_testkit::tiny::write_tiny_checkpoint;

fn model() -> anyhow::Result<Chatterbox> {
    let dir = std::env::temp_dir().join(format!("cbx-long-test-{}", std::process::id()));
    write_tiny_checkpoint(&dir, 0)?;
    Ok(Chatterbox::load(&dir)?)
}

const TEXT: &str = "The first sentence is here, and it is long enough. A second one follows it. \
                    Dr. Smith paid $1,000.50 for 3.5 kg, e.g. at the market.\n\nA new paragraph \
                    ends the text.";

#[test]
fn chunks_are_spoken_in_order_with_their_own_seeds_and_streamed() -> anyhow::Result<()> {
    let model = model()?;
    let params = GenerateParams {
        seed: Some(21),
        max_new_tokens: 10,
        ..GenerateParams::default()
    };
    let opts = ChunkOptions::default();
    let chunks = split_text(TEXT, &opts);
    // The short second sentence is spoken with the third (under min_chars).
    assert_eq!(chunks.len(), 3, "{chunks:?}");

    let mut pieces = Vec::new();
    let mut progress = Vec::new();
    model.generate_long(TEXT, None, &params, &opts, &|| false, &mut |s, p| {
        pieces.push(s);
        progress.push((p.done, p.total));
    })?;
    assert_eq!(progress, [(1, 3), (2, 3), (3, 3), (3, 3)]);
    let whole: Vec<f32> = pieces.concat();

    // The same audio, chunk by chunk by hand: generate each alone with its seed, trim, join.
    let mut joiner = Joiner::new(S3GEN_SR);
    let mut expected = Vec::new();
    let mut pause = 0.0;
    for (i, c) in chunks.iter().enumerate() {
        let p = GenerateParams {
            seed: Some(chunk_seed(21, i)),
            max_new_tokens: params.max_new_tokens.min(max_tokens_for(&c.text)),
            ..params.clone()
        };
        let wav = model.generate(&c.text, None, &p, &|| false)?;
        expected.extend(joiner.push(trim_silence(&wav, S3GEN_SR), pause));
        pause = pause_after(c.boundary);
    }
    expected.extend(joiner.finish());
    assert_eq!(whole, expected, "every chunk, in order, with its own seed");

    // Same seed, same audio; another seed, other audio.
    let mut again = Vec::new();
    model.generate_long(TEXT, None, &params, &opts, &|| false, &mut |s, _| {
        again.extend(s)
    })?;
    assert_eq!(again, whole);
    let other = GenerateParams {
        seed: Some(22),
        ..params.clone()
    };
    let mut different = Vec::new();
    model.generate_long(TEXT, None, &other, &opts, &|| false, &mut |s, _| {
        different.extend(s)
    })?;
    assert_ne!(different, whole);

    // Cancelling after the first chunk stops the work.
    let mut seen = 0;
    let stopped = std::cell::Cell::new(false);
    let r = model.generate_long(
        TEXT,
        None,
        &params,
        &opts,
        &|| stopped.get(),
        &mut |_, _| {
            seen += 1;
            stopped.set(true);
        },
    );
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    assert_eq!(seen, 1);
    Ok(())
}
