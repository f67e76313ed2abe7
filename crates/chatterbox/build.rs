//! Tells the tests whether the build machine's CPU has AVX2+FMA, the only ISA the packed kernels
//! have a path for: their kernel-level tests are then `#[ignore]`d with the reason instead of
//! passing without checking anything (tests run on the machine that built them).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(host_avx2_fma)");
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        println!("cargo::rustc-cfg=host_avx2_fma");
    }
}
