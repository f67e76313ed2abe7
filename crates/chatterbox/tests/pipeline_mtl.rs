//! Chatterbox Multilingual end to end on the tiny random-weight multilingual checkpoint:
//! detection, the multilingual defaults, languages (tagged, Chinese through the Cangjie table,
//! unsupported ones refused), seeded determinism, English when no language is given.

use chatterbox::pipeline::{Chatterbox, GenerateParams, Variant};
use chatterbox::Error;
use chatterbox_testkit::tiny::write_tiny_variant_checkpoint;

fn model(name: &str) -> anyhow::Result<(Chatterbox, std::path::PathBuf)> {
    let dir = std::env::temp_dir().join(format!("cbx-mtl-{name}-{}", std::process::id()));
    write_tiny_variant_checkpoint(&dir, Variant::Multilingual, 0)?;
    Ok((Chatterbox::load(&dir)?, dir))
}

fn params(language: Option<&str>) -> GenerateParams {
    GenerateParams {
        seed: Some(5),
        max_new_tokens: 8,
        language: language.map(str::to_string),
        ..Variant::Multilingual.default_params()
    }
}

#[test]
fn multilingual_directory_is_detected_and_speaks_languages() -> anyhow::Result<()> {
    let (model, dir) = model("generate")?;
    assert_eq!(Variant::detect(&dir)?, Variant::Multilingual);
    assert_eq!(model.variant(), Variant::Multilingual);
    assert_eq!(
        Variant::Multilingual.default_params().repetition_penalty,
        2.0
    );
    // Not loadable as the original model (different T3 file and vocabulary).
    assert!(
        Chatterbox::load_variant_with(&dir, Some(Variant::Original), &Default::default()).is_err()
    );
    for (lang, text) in [
        (Some("fr"), "Bonjour, ça va ?"),
        (Some("ZH"), "你好，世界"),
        (Some("ja"), "日本語のテキストです。"),
        (Some("ko"), "안녕하세요"),
        (None, "Hello there."),
    ] {
        let wav = model.generate(text, None, &params(lang), &|| false)?;
        assert!(!wav.is_empty() && wav.len() <= 8 * 2 * 480, "{lang:?}");
        assert!(wav.iter().all(|v| v.is_finite()));
        assert_eq!(wav, model.generate(text, None, &params(lang), &|| false)?);
    }
    // No language is English: the same tokens as `en`.
    assert_eq!(
        model.generate("Hello there.", None, &params(None), &|| false)?,
        model.generate("Hello there.", None, &params(Some("en")), &|| false)?
    );
    let e = model.generate("Hallo.", None, &params(Some("xx")), &|| false);
    match e {
        Err(Error::InvalidArgument(m)) => {
            assert!(m.contains("supported") && m.contains("zh"), "{m}")
        }
        other => panic!("expected an unsupported-language error, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn english_only_models_accept_only_english() {
    let p = |l: &str| GenerateParams {
        language: Some(l.into()),
        ..GenerateParams::default()
    };
    assert!(p("en").validate_for(Variant::Original).is_ok());
    assert!(p("EN").validate_for(Variant::Turbo).is_ok());
    assert!(p("fr").validate_for(Variant::Original).is_err());
    assert!(p("fr").validate_for(Variant::Multilingual).is_ok());
}
