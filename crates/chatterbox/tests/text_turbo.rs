//! The GPT-2 tokenizer as a Turbo model directory holds it: tags are single ids, a huge
//! `model_max_length` (transformers' "no limit" value) means no truncation, and a file that gives
//! an added token an id the vocabulary cannot honour is an error.

use chatterbox::text::{punc_norm_turbo, Gpt2Tokenizer, ADDED_TOKENS_FILE, TOKENIZER_CONFIG_FILE};
use chatterbox_testkit::tiny::{tiny_gpt2_tokenizer_files, TINY_GPT2_VOCAB};

fn write_dir(
    name: &str,
    edit: impl Fn(&str, String) -> String,
) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("cbx-gpt2-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for (file, text) in tiny_gpt2_tokenizer_files() {
        std::fs::write(dir.join(file), edit(file, text))?;
    }
    Ok(dir)
}

#[test]
fn tags_are_single_tokens_and_limits_are_read() -> anyhow::Result<()> {
    let dir = write_dir("ok", |file, text| {
        if file == TOKENIZER_CONFIG_FILE {
            text.replace(
                "\"model_max_length\":1024",
                "\"model_max_length\":1000000000000000019884624838656",
            )
        } else {
            text
        }
    })?;
    let tok = Gpt2Tokenizer::from_dir(&dir)?;
    assert_eq!(tok.vocab_size(), TINY_GPT2_VOCAB);
    let laugh = tok
        .token_to_id("[laugh]")
        .ok_or_else(|| anyhow::anyhow!("no [laugh]"))?;
    let ids = tok.encode(&punc_norm_turbo("hi [laugh] [clear throat]"))?;
    // "Hi" = 2 byte tokens, " " + tag, " " + tag, "." (tags keep their spaces: no lstrip/rstrip).
    assert_eq!(ids.len(), 2 + 2 + 2 + 1, "{ids:?}");
    assert_eq!(ids[3], laugh);
    // No truncation with the "unlimited" length.
    let long = "a".repeat(3000);
    assert_eq!(tok.encode(&long)?.len(), 3000);
    std::fs::remove_dir_all(&dir)?;

    // The tiny files' own limit (1024) truncates.
    let dir = write_dir("limit", |_, text| text)?;
    assert_eq!(Gpt2Tokenizer::from_dir(&dir)?.encode(&long)?.len(), 1024);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn an_added_token_id_that_cannot_be_honoured_is_an_error() -> anyhow::Result<()> {
    // Drop the config's table so added_tokens.json alone places the tags, one id off.
    let dir = write_dir("badid", |file, text| match file {
        f if f == TOKENIZER_CONFIG_FILE => "{}".to_string(),
        f if f == ADDED_TOKENS_FILE => text.replace("\"[laugh]\":257", "\"[laugh]\":300"),
        _ => text,
    })?;
    let err = Gpt2Tokenizer::from_dir(&dir).err().map(|e| e.to_string());
    assert!(err.as_deref().is_some_and(|e| e.contains("[")), "{err:?}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
