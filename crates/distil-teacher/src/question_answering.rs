//! `BertForQuestionAnswering`: BERT without pooler and `qa_outputs` (start and end logits).

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{linear, PretrainedModel, QuestionAnsweringOutput};
use distil_core::EncoderInput;
use tch::nn::{self, Module};

use crate::{BertConfig, BertModel};

#[derive(Debug)]
pub struct BertForQuestionAnswering {
    pub bert: BertModel,
    pub qa_outputs: nn::Linear,
}

impl BertForQuestionAnswering {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        Self {
            bert: BertModel::new(&p / "bert", config, false),
            qa_outputs: linear(
                &p / "qa_outputs",
                config.hidden_size,
                2,
                config.initializer_range,
            ),
        }
    }

    /// Start and end logits `[batch, seq]`; the loss is [`distil_core::nn::span_loss`].
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> QuestionAnsweringOutput {
        let encoder = self.bert.forward_t(input, train);
        let logits = self.qa_outputs.forward(encoder.last_hidden_state());
        QuestionAnsweringOutput::from_logits(encoder, &logits)
    }
}

impl PretrainedModel for BertForQuestionAnswering {
    type Config = BertConfig;

    fn build(p: nn::Path, config: &BertConfig) -> Self {
        Self::new(p, config)
    }

    fn load_spec() -> LoadSpec {
        LoadSpec::new("bert").allow_missing(["qa_outputs"])
    }
}
