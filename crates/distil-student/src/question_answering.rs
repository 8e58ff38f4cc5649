//! `DistilBertForQuestionAnswering`: dropout (`qa_dropout`) and `qa_outputs`.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{dropout, linear, PretrainedModel, QuestionAnsweringOutput};
use distil_core::EncoderInput;
use tch::nn::{self, Module};

use crate::{DistilBertConfig, DistilBertModel};

#[derive(Debug)]
pub struct DistilBertForQuestionAnswering {
    pub distilbert: DistilBertModel,
    pub qa_outputs: nn::Linear,
    dropout: f64,
}

impl DistilBertForQuestionAnswering {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        Self {
            distilbert: DistilBertModel::new(&p / "distilbert", config),
            qa_outputs: linear(&p / "qa_outputs", config.dim, 2, config.initializer_range),
            dropout: config.qa_dropout,
        }
    }

    /// Start and end logits `[batch, seq]`; the loss is [`distil_core::nn::span_loss`].
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> QuestionAnsweringOutput {
        let encoder = self.distilbert.forward_t(input, train);
        let hidden = dropout(encoder.last_hidden_state(), self.dropout, train);
        let logits = self.qa_outputs.forward(&hidden);
        QuestionAnsweringOutput::from_logits(encoder, &logits)
    }
}

impl PretrainedModel for DistilBertForQuestionAnswering {
    type Config = DistilBertConfig;

    fn build(p: nn::Path, config: &DistilBertConfig) -> Self {
        Self::new(p, config)
    }

    fn load_spec() -> LoadSpec {
        LoadSpec::new("distilbert").allow_missing(["qa_outputs"])
    }
}
