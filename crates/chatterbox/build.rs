//! Tells the tests whether the build machine's CPU has AVX2+FMA: the AVX2 kernel tests are then
//! `#[ignore]`d with the reason instead of passing without checking anything (tests run on the
//! machine that built them). The AVX-512 kernel tests check the CPU at run time and print
//! "skipped: no avx512f" where it has none.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(host_avx2_fma)");
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        println!("cargo::rustc-cfg=host_avx2_fma");
    }
}
