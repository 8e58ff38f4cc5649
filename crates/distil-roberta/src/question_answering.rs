//! `RobertaForQuestionAnswering`: RoBERTa without pooler and `qa_outputs` (start and end
//! logits).

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{PretrainedModel, QuestionAnsweringOutput, SpanHead};
use distil_core::EncoderInput;
use tch::nn;

use crate::model::ROBERTA_PREFIX;
use crate::{RobertaConfig, RobertaModel};

/// Mirrors `transformers.RobertaForQuestionAnswering`.
#[derive(Debug)]
pub struct RobertaForQuestionAnswering {
    pub roberta: RobertaModel,
    pub qa_outputs: SpanHead,
}

impl RobertaForQuestionAnswering {
    pub fn new(p: nn::Path, config: &RobertaConfig) -> Self {
        Self {
            roberta: RobertaModel::new(&p / ROBERTA_PREFIX, config, false),
            // HF's RoBERTa has no dropout before `qa_outputs`.
            qa_outputs: SpanHead::new(&p, config.hidden_size, 0.0, config.initializer_range),
        }
    }

    /// Start and end logits `[batch, seq]`; the loss is [`distil_core::nn::span_loss`].
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> QuestionAnsweringOutput {
        self.qa_outputs
            .forward_t(self.roberta.forward_t(input, train), train)
    }
}

impl PretrainedModel for RobertaForQuestionAnswering {
    type Config = RobertaConfig;

    fn build(p: nn::Path, config: &RobertaConfig) -> Self {
        Self::new(p, config)
    }

    fn load_spec() -> LoadSpec {
        LoadSpec::new(ROBERTA_PREFIX).allow_missing(["qa_outputs"])
    }
}
