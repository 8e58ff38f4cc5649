//! The element types distil reads and writes, as libtorch, safetensors and PyTorch's pickled
//! storage classes name them.

use safetensors::Dtype;
use tch::Kind;

/// The libtorch kind of a safetensors dtype; `None` for types libtorch has no kind for here
/// (fp8, fp4, unsigned wider than a byte, complex).
pub(crate) fn kind_of_dtype(dtype: Dtype) -> Option<Kind> {
    match dtype {
        Dtype::BOOL => Some(Kind::Bool),
        Dtype::U8 => Some(Kind::Uint8),
        Dtype::I8 => Some(Kind::Int8),
        Dtype::I16 => Some(Kind::Int16),
        Dtype::I32 => Some(Kind::Int),
        Dtype::I64 => Some(Kind::Int64),
        Dtype::F16 => Some(Kind::Half),
        Dtype::BF16 => Some(Kind::BFloat16),
        Dtype::F32 => Some(Kind::Float),
        Dtype::F64 => Some(Kind::Double),
        _ => None,
    }
}

/// The safetensors dtype of a libtorch kind.
pub(crate) fn dtype_of_kind(kind: Kind) -> Option<Dtype> {
    match kind {
        Kind::Bool => Some(Dtype::BOOL),
        Kind::Uint8 => Some(Dtype::U8),
        Kind::Int8 => Some(Dtype::I8),
        Kind::Int16 => Some(Dtype::I16),
        Kind::Int => Some(Dtype::I32),
        Kind::Int64 => Some(Dtype::I64),
        Kind::Half => Some(Dtype::F16),
        Kind::BFloat16 => Some(Dtype::BF16),
        Kind::Float => Some(Dtype::F32),
        Kind::Double => Some(Dtype::F64),
        _ => None,
    }
}

/// The kind stored by a `torch.*Storage` class that `torch.save` names in its pickle.
pub(crate) fn kind_of_storage_class(name: &str) -> Option<Kind> {
    match name {
        "FloatStorage" => Some(Kind::Float),
        "DoubleStorage" => Some(Kind::Double),
        "HalfStorage" => Some(Kind::Half),
        "BFloat16Storage" => Some(Kind::BFloat16),
        "LongStorage" => Some(Kind::Int64),
        "IntStorage" => Some(Kind::Int),
        "ShortStorage" => Some(Kind::Int16),
        "CharStorage" => Some(Kind::Int8),
        "ByteStorage" => Some(Kind::Uint8),
        "BoolStorage" => Some(Kind::Bool),
        _ => None,
    }
}

/// A short lower-case name for a kind, as `distil inspect` prints it (`f32`, `bf16`, `i64`).
pub fn kind_name(kind: Kind) -> String {
    match dtype_of_kind(kind) {
        Some(dtype) => dtype.to_string().to_ascii_lowercase(),
        None => format!("{kind:?}"),
    }
}

/// Parses `f32`, `bf16` or `f16` (and the long forms `float32`, `bfloat16`, `float16`).
pub fn parse_float_kind(name: &str) -> Option<Kind> {
    match name.to_ascii_lowercase().as_str() {
        "f32" | "fp32" | "float32" | "float" => Some(Kind::Float),
        "bf16" | "bfloat16" => Some(Kind::BFloat16),
        "f16" | "fp16" | "float16" | "half" => Some(Kind::Half),
        _ => None,
    }
}

/// Whether a kind holds floating-point numbers (the only tensors a dtype change applies to).
pub(crate) fn is_float(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double
    )
}
