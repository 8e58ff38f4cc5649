//! Causal-LM targets: the input stays as read and the logits at position `i` predict token
//! `i + 1`. The reference distiller shifts the logits and labels by one inside the loss
//! (`shift_logits = s_logits[:, :-1]`, `shift_labels = lm_labels[:, 1:]`, pads at -100);
//! putting the next id in position `i`'s label instead gives the same cross-entropy over the
//! same pairs, and lets the loss read logits only at the rows that have a target.

use crate::batch::BatchRows;

/// `rows` padded with `pad_id`, each position's label the next real token, -100 at a row's
/// last real token and at pads.
pub fn next_token_rows(rows: &[&[u32]], pad_id: u32) -> BatchRows {
    let mut batch = BatchRows::padded(rows, pad_id);
    let len = batch.len;
    for (b, row) in rows.iter().enumerate() {
        for (t, pair) in row.windows(2).enumerate() {
            batch.labels[b * len + t] = i64::from(pair[1]);
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::IGNORE_LABEL;

    #[test]
    fn each_position_predicts_the_next_real_token() {
        let (a, b): (&[u32], &[u32]) = (&[0, 7, 8, 9, 0], &[0, 5, 0]);
        let batch = next_token_rows(&[a, b], 3);
        let n = IGNORE_LABEL;
        assert_eq!((batch.batch, batch.len), (2, 5));
        assert_eq!(batch.input_ids, vec![0, 7, 8, 9, 0, 0, 5, 0, 3, 3]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
        assert_eq!(batch.labels, vec![7, 8, 9, 0, n, 5, 0, n, n, n]);
    }

    #[test]
    fn a_single_token_row_has_no_target() {
        let one: &[u32] = &[4];
        let batch = next_token_rows(&[one], 0);
        assert_eq!(batch.labels, vec![IGNORE_LABEL]);
    }
}
