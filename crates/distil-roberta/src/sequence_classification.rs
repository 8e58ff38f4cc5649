//! `RobertaForSequenceClassification`: RoBERTa without pooler and the classification head on
//! `<s>`.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{PretrainedModel, SequenceClassifierOutput};
use distil_core::EncoderInput;
use tch::nn;

use crate::classification_head::RobertaClassificationHead;
use crate::model::ROBERTA_PREFIX;
use crate::{RobertaConfig, RobertaModel};

/// Mirrors `transformers.RobertaForSequenceClassification`.
#[derive(Debug)]
pub struct RobertaForSequenceClassification {
    pub roberta: RobertaModel,
    pub classifier: RobertaClassificationHead,
}

impl RobertaForSequenceClassification {
    pub fn new(p: nn::Path, config: &RobertaConfig) -> Self {
        Self {
            roberta: RobertaModel::new(&p / ROBERTA_PREFIX, config, false),
            classifier: RobertaClassificationHead::new(&p / "classifier", config),
        }
    }

    /// Logits `[batch, num_labels]`; the loss is
    /// [`distil_core::nn::sequence_classification_loss`] (MSE for one label, CE otherwise).
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> SequenceClassifierOutput {
        self.classifier
            .forward_t(self.roberta.forward_t(input, train), train)
    }
}

impl PretrainedModel for RobertaForSequenceClassification {
    type Config = RobertaConfig;

    fn build(p: nn::Path, config: &RobertaConfig) -> Self {
        Self::new(p, config)
    }

    /// A pre-trained RoBERTa (MLM or base) fine-tunes into this: the classifier starts fresh,
    /// as in `transformers`.
    fn load_spec() -> LoadSpec {
        LoadSpec::new(ROBERTA_PREFIX).allow_missing(["classifier"])
    }
}
