//! `BertForQuestionAnswering`: BERT without pooler and `qa_outputs` (start and end logits).

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{PretrainedModel, QuestionAnsweringOutput, SpanHead};
use distil_core::EncoderInput;
use tch::nn;

use crate::{BertConfig, BertModel};

#[derive(Debug)]
pub struct BertForQuestionAnswering {
    pub bert: BertModel,
    pub qa_outputs: SpanHead,
}

impl BertForQuestionAnswering {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        Self {
            bert: BertModel::new(&p / "bert", config, false),
            // HF's BERT has no dropout before `qa_outputs`.
            qa_outputs: SpanHead::new(&p, config.hidden_size, 0.0, config.initializer_range),
        }
    }

    /// Start and end logits `[batch, seq]`; the loss is [`distil_core::nn::span_loss`].
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> QuestionAnsweringOutput {
        self.qa_outputs
            .forward_t(self.bert.forward_t(input, train), train)
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
