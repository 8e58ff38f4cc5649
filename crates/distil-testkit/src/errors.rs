//! Reading an error as a user reads it: each cause of its chain once, outermost first.

use std::error::Error;

/// `err` and its sources joined by `: `, as `anyhow` prints a chain with `{:#}`.
pub fn error_chain(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
