//! RoBERTa's position ids, counted over the real tokens from just after the padding index
//! (fairseq's `make_positions`), so padding never shifts a real token's position.

use tch::{Kind, Tensor};

/// transformers' `RobertaEmbeddings.create_position_ids_from_input_ids` (no cache): each
/// non-padding token gets `padding_idx` + its rank among the row's non-padding tokens, each
/// padding token gets `padding_idx` itself. `[batch, seq]` `Int64`.
pub fn position_ids_from_input_ids(input_ids: &Tensor, padding_idx: i64) -> Tensor {
    let real = input_ids.ne(padding_idx).to_kind(Kind::Int64);
    real.cumsum(1, Kind::Int64) * &real + padding_idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_keeps_the_padding_index_and_real_tokens_count_from_after_it() {
        let ids = Tensor::from_slice(&[0i64, 7, 8, 2, 1, 1, 0, 9, 2, 2, 5, 2]).view([2, 6]);
        let positions = Vec::<i64>::try_from(position_ids_from_input_ids(&ids, 1).view([-1]));
        assert_eq!(
            positions.unwrap_or_default(),
            [2, 3, 4, 5, 1, 1, 2, 3, 4, 5, 6, 7]
        );
    }
}
