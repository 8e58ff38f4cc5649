//! PyTorch `pytorch_model.bin` files in the zip format of `torch.save` (torch >= 1.6): the
//! pickle `*/data.pkl` is read for tensor records only (see [`super::pickle`]) and each
//! tensor is cut from its storage `*/data/<key>` by offset, size and stride. The legacy
//! non-zip format is refused with the command that converts it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use tch::Tensor;
use zip::ZipArchive;

use super::pickle::{unpickle, PickleError, StorageRef, TensorRecord, Value};
use super::CheckpointError;

/// Reads every tensor of a `torch.save` zip archive onto the CPU.
pub(crate) fn read_torch_bin(path: &Path) -> Result<BTreeMap<String, Tensor>, CheckpointError> {
    let malformed = |reason: String| CheckpointError::TorchArchive {
        path: path.to_path_buf(),
        reason,
    };
    let refused = |reason: String| CheckpointError::Refused {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = File::open(path).map_err(|e| CheckpointError::io(path, e))?;
    let mut magic = Vec::with_capacity(4);
    (&mut file)
        .take(4)
        .read_to_end(&mut magic)
        .and_then(|_| file.rewind())
        .map_err(|e| CheckpointError::io(path, e))?;
    if magic.first() == Some(&0x80) {
        return Err(refused(
            "it uses the legacy (torch < 1.6) serialization, not the zip format".to_string(),
        ));
    }
    if magic != b"PK\x03\x04" {
        return Err(malformed("not a zip archive".to_string()));
    }
    let mut archive = ZipArchive::new(file).map_err(|e| malformed(e.to_string()))?;
    let prefix = archive
        .file_names()
        .find_map(|name| name.strip_suffix("/data.pkl"))
        .filter(|prefix| !prefix.contains('/'))
        .map(str::to_string)
        .ok_or_else(|| malformed("no `<archive>/data.pkl` entry".to_string()))?;

    if let Some(order) =
        read_optional_entry(&mut archive, &format!("{prefix}/byteorder")).map_err(malformed)?
    {
        if order.trim_ascii() != b"little" {
            return Err(refused("its tensors are stored big-endian".to_string()));
        }
    }
    let pickle =
        read_entry(&mut archive, &format!("{prefix}/data.pkl"), None).map_err(malformed)?;
    let unpickled = unpickle(&pickle).map_err(|e| match e {
        PickleError::Refused { .. } => refused(e.to_string()),
        PickleError::Malformed { .. } => malformed(e.to_string()),
    })?;
    let Value::Dict(root) = unpickled.root else {
        return Err(malformed(
            "the pickle does not hold a state dict (a dict of tensors)".to_string(),
        ));
    };

    let mut storages: HashMap<String, Tensor> = HashMap::new();
    let mut tensors = BTreeMap::new();
    for (key, value) in unpickled.dict(root) {
        let (Value::Str(key), Value::Tensor(record)) = (key, value) else {
            return Err(malformed(format!(
                "state dict entry {key:?} is not a named tensor"
            )));
        };
        check_view(record, key).map_err(malformed)?;
        if !storages.contains_key(&record.storage.key) {
            let storage =
                read_storage(&mut archive, &prefix, &record.storage).map_err(malformed)?;
            storages.insert(record.storage.key.clone(), storage);
        }
        let storage = &storages[&record.storage.key];
        let tensor = storage
            .f_as_strided(&record.size, &record.stride, record.offset)
            .and_then(|t| t.f_contiguous())
            .map_err(|e| CheckpointError::tensor(key, e).in_file(path))?;
        tensors.insert(key.clone(), tensor);
    }
    Ok(tensors)
}

/// Checks that a strided view stays inside its storage, so cutting it cannot fail.
fn check_view(record: &TensorRecord, key: &str) -> Result<(), String> {
    let bad = |what: &str| format!("tensor `{key}`: {what}");
    if record.size.len() != record.stride.len() {
        return Err(bad("size and stride differ in length"));
    }
    if record.offset < 0 || record.size.iter().chain(&record.stride).any(|&v| v < 0) {
        return Err(bad("negative offset, size or stride"));
    }
    if record.size.contains(&0) {
        return Ok(());
    }
    let last = record
        .size
        .iter()
        .zip(&record.stride)
        .try_fold(record.offset, |acc, (&size, &stride)| {
            (size - 1)
                .checked_mul(stride)
                .and_then(|d| acc.checked_add(d))
        })
        .ok_or_else(|| bad("offset overflows"))?;
    if last >= record.storage.numel {
        return Err(bad(&format!(
            "view reaches element {last} of a storage of {} elements",
            record.storage.numel
        )));
    }
    Ok(())
}

fn read_storage<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    prefix: &str,
    storage: &StorageRef,
) -> Result<Tensor, String> {
    let name = format!("{prefix}/data/{}", storage.key);
    let len = usize::try_from(storage.numel)
        .ok()
        .and_then(|n| n.checked_mul(storage.kind.elt_size_in_bytes()))
        .ok_or_else(|| format!("storage `{name}` has an invalid element count"))?;
    let bytes = read_entry(archive, &name, Some(len))?;
    Tensor::f_from_data_size(&bytes, &[storage.numel], storage.kind)
        .map_err(|e| format!("storage `{name}`: {e}"))
}

/// Reads an entry whole; with `expected`, exactly that many bytes must be there.
fn read_entry<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &str,
    expected: Option<usize>,
) -> Result<Vec<u8>, String> {
    let mut entry = archive
        .by_name(name)
        .map_err(|e| format!("entry `{name}`: {e}"))?;
    let declared = usize::try_from(entry.size()).unwrap_or(usize::MAX);
    if let Some(expected) = expected {
        if declared < expected {
            return Err(format!(
                "entry `{name}` holds {declared} bytes, {expected} expected"
            ));
        }
    }
    let want = expected.unwrap_or(declared);
    // The sizes come from the file, so they only bound the read, not the first allocation.
    let mut bytes = Vec::with_capacity(want.min(1 << 26));
    (&mut entry)
        .take(want as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("entry `{name}`: {e}"))?;
    if bytes.len() != want {
        return Err(format!(
            "entry `{name}` is cut short ({} of {want} bytes)",
            bytes.len()
        ));
    }
    Ok(bytes)
}

fn read_optional_entry<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &str,
) -> Result<Option<Vec<u8>>, String> {
    if archive.index_for_name(name).is_none() {
        return Ok(None);
    }
    read_entry(archive, name, None).map(Some)
}
