//! `.safetensors` files: read every tensor, and write a tensor map the way `transformers`
//! expects it (`{"format": "pt"}` metadata).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::{Dtype, SafeTensors, View};
use tch::{Device, Kind, Tensor};

use super::dtype::{dtype_of_kind, is_float, kind_of_dtype};
use super::CheckpointError;
use crate::fs::write_atomically;

/// Reads every tensor of a safetensors file onto the CPU.
pub(crate) fn read_safetensors(path: &Path) -> Result<BTreeMap<String, Tensor>, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|e| CheckpointError::io(path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| CheckpointError::Safetensors {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.iter() {
        let kind =
            kind_of_dtype(view.dtype()).ok_or_else(|| CheckpointError::UnsupportedDtype {
                path: path.to_path_buf(),
                key: name.to_string(),
                dtype: view.dtype().to_string(),
            })?;
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let tensor = Tensor::f_from_data_size(view.data(), &shape, kind)
            .map_err(|e| CheckpointError::tensor(name, e).in_file(path))?;
        tensors.insert(name.to_string(), tensor);
    }
    Ok(tensors)
}

/// One tensor's bytes, ready for the safetensors serializer.
struct TensorBytes {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &TensorBytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Copies a tensor bound for `path` to host bytes, casting floating-point tensors to `float_kind` if given.
fn tensor_bytes(
    path: &Path,
    key: &str,
    tensor: &Tensor,
    float_kind: Option<Kind>,
) -> Result<TensorBytes, CheckpointError> {
    let err = |e| CheckpointError::tensor(key, e);
    let mut kind = tensor.f_kind().map_err(err)?;
    if let Some(target) = float_kind.filter(|_| is_float(kind)) {
        kind = target;
    }
    let dtype = dtype_of_kind(kind).ok_or_else(|| CheckpointError::UnsupportedDtype {
        path: path.to_path_buf(),
        key: key.to_string(),
        dtype: format!("{kind:?}"),
    })?;
    let host = tensor
        .f_to_device(Device::Cpu)
        .and_then(|t| t.f_to_kind(kind))
        .and_then(|t| t.f_contiguous())
        .map_err(err)?;
    let numel = host.numel();
    let mut data = vec![0u8; numel * kind.elt_size_in_bytes()];
    host.f_copy_data_u8(&mut data, numel).map_err(err)?;
    Ok(TensorBytes {
        dtype,
        shape: host.size().iter().map(|&d| d as usize).collect(),
        data,
    })
}

/// Writes `tensors` as one safetensors file; floating-point tensors are cast to `float_kind`
/// when given. The file goes through [`write_atomically`], so an interrupted write never
/// leaves a partial file under `path` and the file gets the usual permissions
/// (`safetensors::serialize_to_file` leaves its private temporary file's 0600).
pub(crate) fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    float_kind: Option<Kind>,
) -> Result<(), CheckpointError> {
    let bytes = tensors
        .iter()
        .map(|(key, t)| Ok((key.as_str(), tensor_bytes(path, key, t, float_kind)?)))
        .collect::<Result<Vec<_>, CheckpointError>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let file = safetensors::serialize(bytes.iter().map(|(key, b)| (*key, b)), Some(metadata))
        .map_err(|e| CheckpointError::Safetensors {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    // The file holds its own copy of every tensor; the pieces are no longer needed.
    drop(bytes);
    write_atomically(path, &file)?;
    Ok(())
}
