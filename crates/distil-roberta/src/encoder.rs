//! RoBERTa's encoder: BERT's layer under BERT's weight names, which `RobertaLayer` keeps.

use distil_core::nn::Encoder;
use distil_teacher::layer::BERT_LAYER_NAMES;
use tch::nn;

use crate::RobertaConfig;

/// `RobertaEncoder`: `config.num_hidden_layers` layers below `p`.
pub fn roberta_encoder(p: nn::Path, config: &RobertaConfig) -> Encoder {
    Encoder::new(
        p,
        config.num_hidden_layers,
        &BERT_LAYER_NAMES,
        &config.layer_shape(),
    )
}
