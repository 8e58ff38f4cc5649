//! Comparing computed tensors with reference outputs by their largest absolute difference.

use tch::{Kind, Tensor};

/// The largest `|got - want|`, computed in f64; the shapes must be equal.
pub fn max_abs_diff(got: &Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.size(), want.size(), "shapes differ");
    (got.to_kind(Kind::Double) - want.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

/// Fails unless [`max_abs_diff`] is at most `tol`, naming `what`; returns the difference.
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f64) -> f64 {
    let diff = max_abs_diff(got, want);
    assert!(diff <= tol, "{what}: max |diff| {diff:e} > {tol:e}");
    diff
}
