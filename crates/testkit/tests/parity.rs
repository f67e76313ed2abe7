//! Parity with the PyTorch reference on the committed fixtures, one test per ported module: each
//! compared output must lie within its tolerance (`cargo run --release --example parity` prints
//! the same lines for every module at once).

use chatterbox_testkit::parity;

/// Run one named check and fail with every output that is off.
fn check(name: &str) {
    let reports = parity::run(name, &parity::default_dir())
        .unwrap_or_else(|e| panic!("{name}: the check could not run: {e}"));
    assert!(!reports.is_empty(), "{name}: no output was compared");
    let failed: Vec<String> = reports
        .iter()
        .inspect(|r| println!("{r}"))
        .filter(|r| !r.ok())
        .map(ToString::to_string)
        .collect();
    assert!(failed.is_empty(), "{name}:\n{}", failed.join("\n"));
}

macro_rules! parity_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*

        /// Every registered check has its test above (a new check cannot go untested).
        #[test]
        fn every_registered_check_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for (name, _) in parity::checks() {
                assert!(tested.contains(&name), "parity check {name} has no test in tests/parity.rs");
            }
        }
    };
}

parity_tests!(
    audio_io,
    resample,
    s3_logmel,
    ve_mel,
    s3gen_mel,
    campplus_fbank,
    hift_stft,
    text,
    cond_s3tokenizer,
    cond_voice_encoder,
    cond_campplus,
    cond_prepare_conditionals,
    cond_conds_pt,
    t3_model,
    t3_sampling,
    s3gen_flow,
    s3gen_hift,
    s3gen_full,
    turbo_t3,
    mtl_text,
    mtl_alignment,
    mtl_t3,
    mtl_pt,
    mtl_ve_pt,
    mtl_ja,
    turbo_sampling,
    turbo_meanflow,
    turbo_text,
    turbo_loudness,
    turbo_prepare_conditionals,
    vc,
);
