//! A safetensors file read tensor by tensor when a module asks for it, with plain file reads
//! instead of a memory map: a mapped checkpoint keeps every page it has touched resident while the
//! converted copies are built, which doubles the peak RSS of a load (≈ 6 GiB instead of ≈ 3 GiB
//! for the released f32 model). Read this way the peak is the weights plus one tensor in flight.

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Error, Result};

/// Open a safetensors file whose tensors are read on request; every float
/// dtype is converted to f32 on access. A `.pt` / `.pth` / `.bin` file is read as a PyTorch zip
/// pickle of a state dict (Chatterbox Multilingual's `ve.pt`, `s3gen.pt`), also on request.
pub fn open_checkpoint(path: &Path, device: &Device) -> Result<VarBuilder<'static>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "pt" | "pth" | "bin") {
        if !path.is_file() {
            return Err(Error::Checkpoint {
                path: path.to_path_buf(),
                msg: "file not found".into(),
            });
        }
        let pth =
            candle_core::pickle::PthTensors::new(path, None).map_err(|e| Error::Checkpoint {
                path: path.to_path_buf(),
                msg: format!("not a PyTorch state dict: {e}"),
            })?;
        return Ok(VarBuilder::from_backend(
            Box::new(pth),
            DType::F32,
            device.clone(),
        ));
    }
    let file = SafetensorsFile::open(path)?;
    Ok(VarBuilder::from_backend(
        Box::new(file),
        DType::F32,
        device.clone(),
    ))
}

struct Entry {
    dtype: DType,
    shape: Vec<usize>,
    /// Absolute byte range in the file.
    start: u64,
    len: usize,
}

pub(crate) struct SafetensorsFile {
    path: PathBuf,
    file: Mutex<File>,
    entries: HashMap<String, Entry>,
}

fn dtype(name: &str) -> Option<DType> {
    Some(match name {
        "F32" => DType::F32,
        "F16" => DType::F16,
        "BF16" => DType::BF16,
        "F64" => DType::F64,
        "I64" => DType::I64,
        "I32" => DType::I32,
        "I16" => DType::I16,
        "U32" => DType::U32,
        "U8" => DType::U8,
        _ => return None,
    })
}

impl SafetensorsFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let bad = |msg: String| Error::Checkpoint {
            path: path.to_path_buf(),
            msg,
        };
        if !path.is_file() {
            return Err(bad("file not found".into()));
        }
        let mut file =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len();
        let mut n = [0u8; 8];
        file.read_exact(&mut n)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let n = u64::from_le_bytes(n);
        if n > 100 << 20 || 8 + n > size {
            return Err(bad(format!("header of {n} bytes in a {size}-byte file")));
        }
        let mut header = vec![0u8; n as usize];
        file.read_exact(&mut header)
            .map_err(|e| bad(format!("truncated header: {e}")))?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&header).map_err(|e| bad(format!("header: {e}")))?;
        let data_start = 8 + n;
        let mut entries = HashMap::with_capacity(header.len());
        for (name, v) in header {
            if name == "__metadata__" {
                continue;
            }
            let field = |k: &str| v.get(k).ok_or_else(|| bad(format!("{name}: no {k}")));
            let dt = field("dtype")?
                .as_str()
                .and_then(dtype)
                .ok_or_else(|| bad(format!("{name}: unsupported dtype {}", v["dtype"])))?;
            let nums = |k: &str| -> Result<Vec<u64>> {
                field(k)?
                    .as_array()
                    .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect())
                    .ok_or_else(|| bad(format!("{name}: bad {k}")))
            };
            let shape: Vec<usize> = nums("shape")?.into_iter().map(|d| d as usize).collect();
            let offsets = nums("data_offsets")?;
            let (s, e) = match offsets[..] {
                [s, e] if s <= e && data_start + e <= size => (s, e),
                _ => {
                    return Err(bad(format!(
                        "{name}: data offsets {offsets:?} out of range"
                    )))
                }
            };
            let want = shape.iter().product::<usize>() * dt.size_in_bytes();
            if (e - s) as usize != want {
                return Err(bad(format!(
                    "{name}: {} bytes for shape {shape:?} {dt:?}",
                    e - s
                )));
            }
            entries.insert(
                name,
                Entry {
                    dtype: dt,
                    shape,
                    start: data_start + s,
                    len: want,
                },
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            entries,
        })
    }

    fn load(&self, name: &str, dev: &Device) -> candle_core::Result<Tensor> {
        let Some(e) = self.entries.get(name) else {
            return Err(candle_core::Error::CannotFindTensor {
                path: name.to_string(),
            }
            .bt());
        };
        let mut bytes = vec![0u8; e.len];
        {
            let mut f = crate::lock(&self.file);
            f.seek(SeekFrom::Start(e.start))
                .and_then(|_| f.read_exact(&mut bytes))
                .map_err(|err| {
                    candle_core::Error::Msg(format!(
                        "{}: reading {name}: {err}",
                        self.path.display()
                    ))
                })?;
        }
        Tensor::from_raw_buffer(&bytes, e.dtype, &e.shape, dev)
    }
}

impl SimpleBackend for SafetensorsFile {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = self.load(name, dev)?.to_dtype(dtype)?;
        if tensor.shape() != &s {
            Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: s,
                got: tensor.shape().clone(),
            }
            .bt())?
        }
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.load(name, dev)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }
}
