//! Parquet token shards: `input_ids` (`list<uint16>`, or `list<uint32>` for large
//! vocabularies) and `length`. Shards are written to a temporary file and renamed into place;
//! reading checks every shard against the manifest before trusting it.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, PrimitiveArray, UInt16Array, UInt32Array};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Schema, UInt16Type, UInt32Type};
use arrow::record_batch::RecordBatch;
use distil_core::fs::temp_file_in;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use crate::manifest::{hex, IdType, Manifest, ShardEntry};
use crate::DataError;

const ROW_GROUP_ROWS: usize = 16 * 1024;
const READ_BATCH_ROWS: usize = 4096;

/// The file name of shard `index`.
pub fn shard_file_name(index: usize) -> String {
    format!("shard-{index:05}.parquet")
}

/// A writer that hashes what passes through it.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `rows` as shard `index` in `dir`, atomically.
pub fn write_shard(
    dir: &Path,
    index: usize,
    rows: &[Vec<u32>],
    id_type: IdType,
) -> Result<ShardEntry, DataError> {
    let file = shard_file_name(index);
    let path = dir.join(&file);
    let write_err = |source| DataError::Write {
        path: path.clone(),
        source,
    };
    let parquet_err = |e: parquet::errors::ParquetError| DataError::Parquet {
        path: path.clone(),
        reason: e.to_string(),
    };
    let batch = rows_to_batch(rows, id_type).map_err(|e| DataError::Parquet {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let tmp = temp_file_in(dir).map_err(write_err)?;
    let (hasher, bytes) = {
        let sink = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, tmp.as_file()),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).map_err(parquet_err)?,
            ))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let mut writer =
            ArrowWriter::try_new(sink, batch.schema(), Some(props)).map_err(parquet_err)?;
        writer.write(&batch).map_err(parquet_err)?;
        let mut sink = writer.into_inner().map_err(parquet_err)?;
        sink.flush().map_err(write_err)?;
        (sink.hasher, sink.bytes)
    };
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(&path).map_err(|e| write_err(e.error))?;
    Ok(ShardEntry {
        file,
        rows: rows.len() as u64,
        tokens: rows.iter().map(|r| r.len() as u64).sum(),
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

fn rows_to_batch(
    rows: &[Vec<u32>],
    id_type: IdType,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let values: ArrayRef = match id_type {
        // The caller chose uint16 because every id of the vocabulary fits.
        IdType::Uint16 => Arc::new(UInt16Array::from_iter_values(
            rows.iter().flatten().map(|&id| id as u16),
        )),
        IdType::Uint32 => Arc::new(UInt32Array::from_iter_values(
            rows.iter().flatten().copied(),
        )),
    };
    let item = Arc::new(Field::new("item", values.data_type().clone(), false));
    let offsets = OffsetBuffer::from_lengths(rows.iter().map(Vec::len));
    let ids = ListArray::try_new(item.clone(), offsets, values, None)?;
    let lengths = UInt32Array::from_iter_values(rows.iter().map(|r| r.len() as u32));
    let schema = Schema::new(vec![
        Field::new("input_ids", DataType::List(item), false),
        Field::new("length", DataType::UInt32, false),
    ]);
    RecordBatch::try_new(Arc::new(schema), vec![Arc::new(ids), Arc::new(lengths)])
}

/// Checks a shard's size and checksum against the manifest, so a shard cut short or changed
/// after `distil prep` is an error instead of silently different data.
pub fn verify_shard(dir: &Path, entry: &ShardEntry) -> Result<(), DataError> {
    let path = dir.join(&entry.file);
    let read_err = |source| DataError::Read {
        path: path.clone(),
        source,
    };
    let mut file = File::open(&path).map_err(read_err)?;
    let bytes = file.metadata().map_err(read_err)?.len();
    if bytes != entry.bytes {
        return Err(DataError::Shard {
            path,
            reason: format!(
                "{bytes} bytes, the manifest says {}: the shard was cut short or replaced; \
                 run `distil prep` again",
                entry.bytes
            ),
        });
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    if hex(&hasher.finalize()) != entry.sha256 {
        return Err(DataError::Shard {
            path,
            reason: "checksum differs from the manifest; run `distil prep` again".to_string(),
        });
    }
    Ok(())
}

/// The rows of one shard from a given row on, in record batches.
pub struct ShardRows {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    vocab_size: usize,
    pending: std::vec::IntoIter<Vec<u32>>,
}

impl ShardRows {
    /// Opens shard `entry` of `manifest` at row `start` (the shard should have been verified).
    pub fn open(
        dir: &Path,
        manifest: &Manifest,
        entry: &ShardEntry,
        start: u64,
    ) -> Result<Self, DataError> {
        let path = dir.join(&entry.file);
        let parquet_err = |e: parquet::errors::ParquetError| DataError::Shard {
            path: path.clone(),
            reason: e.to_string(),
        };
        let file = File::open(&path).map_err(|source| DataError::Read {
            path: path.clone(),
            source,
        })?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(parquet_err)?
            .with_batch_size(READ_BATCH_ROWS)
            .with_offset(usize::try_from(start).unwrap_or(usize::MAX))
            .build()
            .map_err(parquet_err)?;
        Ok(ShardRows {
            path,
            reader,
            vocab_size: manifest.vocab_size,
            pending: Vec::new().into_iter(),
        })
    }

    fn decode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u32>>, String> {
        let ids = batch
            .column_by_name("input_ids")
            .and_then(|c| c.as_list_opt::<i32>())
            .ok_or("no `input_ids` list column")?;
        let lengths = batch
            .column_by_name("length")
            .and_then(|c| c.as_primitive_opt::<UInt32Type>())
            .ok_or("no `length` uint32 column")?;
        let values: Vec<u32> = match ids.values().data_type() {
            DataType::UInt16 => {
                let v: &PrimitiveArray<UInt16Type> = ids.values().as_primitive();
                v.values().iter().map(|&x| u32::from(x)).collect()
            }
            DataType::UInt32 => ids.values().as_primitive::<UInt32Type>().values().to_vec(),
            other => {
                return Err(format!(
                    "`input_ids` holds {other}, expected uint16 or uint32"
                ))
            }
        };
        if let Some(&bad) = values.iter().find(|&&id| id as usize >= self.vocab_size) {
            return Err(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.vocab_size
            ));
        }
        // Offsets index the whole child array, even in a sliced batch.
        let mut rows = Vec::with_capacity(ids.len());
        for (i, w) in ids.value_offsets().windows(2).enumerate() {
            let (a, b) = (w[0] as usize, w[1] as usize);
            if lengths.value(i) as usize != b - a {
                return Err(format!(
                    "`length` {} differs from the row's {} ids",
                    lengths.value(i),
                    b - a
                ));
            }
            rows.push(values[a..b].to_vec());
        }
        Ok(rows)
    }
}

impl Iterator for ShardRows {
    type Item = Result<Vec<u32>, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.pending.next() {
                return Some(Ok(row));
            }
            let batch = match self.reader.next()? {
                Ok(batch) => batch,
                Err(e) => {
                    return Some(Err(DataError::Shard {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    }))
                }
            };
            match self.decode(&batch) {
                Ok(rows) => self.pending = rows.into_iter(),
                Err(reason) => {
                    return Some(Err(DataError::Shard {
                        path: self.path.clone(),
                        reason,
                    }))
                }
            }
        }
    }
}
