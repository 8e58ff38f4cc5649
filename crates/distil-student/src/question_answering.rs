//! `DistilBertForQuestionAnswering`: dropout (`qa_dropout`) and `qa_outputs`.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{PretrainedModel, QuestionAnsweringOutput, SpanHead};
use distil_core::EncoderInput;
use tch::nn;

use crate::{DistilBertConfig, DistilBertModel};

#[derive(Debug)]
pub struct DistilBertForQuestionAnswering {
    pub distilbert: DistilBertModel,
    /// Dropout (`qa_dropout`) and `qa_outputs`.
    pub qa_outputs: SpanHead,
}

impl DistilBertForQuestionAnswering {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        Self {
            distilbert: DistilBertModel::new(&p / "distilbert", config),
            qa_outputs: SpanHead::new(&p, config.dim, config.qa_dropout, config.initializer_range),
        }
    }

    /// Start and end logits `[batch, seq]`; the loss is [`distil_core::nn::span_loss`].
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> QuestionAnsweringOutput {
        self.qa_outputs
            .forward_t(self.distilbert.forward_t(input, train), train)
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
