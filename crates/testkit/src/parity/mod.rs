//! Numerical parity with the PyTorch reference.
//!
//! `tools/reference/make_fixtures.py --seed N --out DIR` runs the reference on fixed inputs and
//! writes safetensors/JSON fixtures; every check here runs the Rust port on the same inputs and
//! compares. A check is ok when `max_abs ≤ tol · scale`, where `scale = max |reference|`
//! (exact-match checks such as text use `tol = 0` and count mismatches instead).

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

mod cond;
mod frontend;
mod mtl;
mod s3gen;
mod t3;
mod turbo;
mod vc;

/// Relative tolerance for float32 module outputs.
pub const TOL_F32: f32 = 1e-4;

/// One compared output.
#[derive(Debug, Clone)]
pub struct Report {
    pub module: String,
    pub max_abs: f32,
    pub scale: f32,
    pub tol: f32,
    /// Set when the comparison could not be made (shape or length mismatch).
    pub note: Option<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.note.is_none() && self.max_abs.is_finite() && self.max_abs <= self.tol * self.scale
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} max_abs={:.3e} scale={:.3e} tol={:.0e} {}",
            self.module,
            self.max_abs,
            self.scale,
            self.tol,
            if self.ok() { "ok" } else { "FAIL" }
        )?;
        if let Some(n) = &self.note {
            write!(f, " ({n})")?;
        }
        Ok(())
    }
}

/// Compare two float tensors of the same shape.
pub fn compare(module: &str, got: &Tensor, want: &Tensor, tol: f32) -> Result<Report> {
    let mut r = Report {
        module: module.to_string(),
        max_abs: f32::INFINITY,
        scale: 0.0,
        tol,
        note: None,
    };
    let want = want.to_dtype(DType::F32)?;
    r.scale = want.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
    if got.dims() != want.dims() {
        r.note = Some(format!(
            "shape {:?} vs reference {:?}",
            got.dims(),
            want.dims()
        ));
        return Ok(r);
    }
    r.max_abs = (got.to_dtype(DType::F32)? - &want)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    Ok(r)
}

pub(crate) fn compare_vec(module: &str, got: &[f32], want: &Tensor, tol: f32) -> Result<Report> {
    let g = Tensor::from_slice(got, got.len(), &Device::Cpu)?;
    compare(module, &g, &want.flatten_all()?, tol)
}

/// Exact comparison of discrete outputs: `max_abs` counts mismatching cases out of `scale` cases.
pub(crate) fn exact(
    module: &str,
    mismatches: usize,
    cases: usize,
    first: Option<String>,
) -> Report {
    Report {
        module: module.to_string(),
        max_abs: mismatches as f32,
        scale: cases as f32,
        tol: 0.0,
        note: first.filter(|_| mismatches > 0),
    }
}

/// The fixtures committed with the crate (seed 0).
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub(crate) struct Fixture {
    dir: PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl Fixture {
    pub(crate) fn open(dir: &Path, name: &str) -> Result<Self> {
        let path = dir.join(format!("{name}.safetensors"));
        let tensors =
            candle_core::safetensors::load(&path, &Device::Cpu).map_err(|e| Error::Checkpoint {
                path: path.clone(),
                msg: e.to_string(),
            })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            tensors,
        })
    }

    pub(crate) fn get(&self, key: &str) -> Result<&Tensor> {
        self.tensors.get(key).ok_or_else(|| Error::Checkpoint {
            path: self.dir.clone(),
            msg: format!("fixture lacks {key}"),
        })
    }

    pub(crate) fn vec(&self, key: &str) -> Result<Vec<f32>> {
        Ok(self
            .get(key)?
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1()?)
    }

    pub(crate) fn scalar(&self, key: &str) -> Result<u32> {
        Ok(self
            .get(key)?
            .flatten_all()?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?[0] as u32)
    }
}

/// A parity check: runs the port on one fixture directory and reports every compared output.
pub type Check = fn(&Path) -> Result<Vec<Report>>;

/// Every ported module's parity check, by name, in pipeline order.
pub fn checks() -> Vec<(&'static str, Check)> {
    let mut all: Vec<(&'static str, Check)> = Vec::new();
    all.extend_from_slice(frontend::CHECKS);
    all.extend_from_slice(cond::CHECKS);
    all.extend_from_slice(t3::CHECKS);
    all.extend_from_slice(s3gen::CHECKS);
    all.extend_from_slice(turbo::CHECKS);
    all.extend_from_slice(vc::CHECKS);
    all.extend_from_slice(mtl::CHECKS);
    all
}

/// Run one named check.
pub fn run(name: &str, dir: &Path) -> Result<Vec<Report>> {
    let (_, f) = checks()
        .into_iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| Error::InvalidArgument(format!("no parity check named {name}")))?;
    f(dir)
}
