//! `DistilBertForSequenceClassification`: [CLS] state, `pre_classifier`, ReLU, dropout
//! (`seq_classif_dropout`), `classifier`.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{linear, ClassifierHead, PretrainedModel, SequenceClassifierOutput};
use distil_core::EncoderInput;
use tch::nn::{self, Module};

use crate::{DistilBertConfig, DistilBertModel};

#[derive(Debug)]
pub struct DistilBertForSequenceClassification {
    pub distilbert: DistilBertModel,
    pub pre_classifier: nn::Linear,
    /// Dropout (`seq_classif_dropout`) and `classifier`.
    pub classifier: ClassifierHead,
}

impl DistilBertForSequenceClassification {
    pub fn new(p: nn::Path, config: &DistilBertConfig) -> Self {
        let (dim, init) = (config.dim, config.initializer_range);
        Self {
            distilbert: DistilBertModel::new(&p / "distilbert", config),
            pre_classifier: linear(&p / "pre_classifier", dim, dim, init),
            classifier: ClassifierHead::new(
                &p,
                dim,
                config.num_labels(),
                config.seq_classif_dropout,
                init,
            ),
        }
    }

    /// Logits `[batch, num_labels]`; the loss is
    /// [`distil_core::nn::sequence_classification_loss`] (MSE for one label, CE otherwise).
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> SequenceClassifierOutput {
        let encoder = self.distilbert.forward_t(input, train);
        let cls = encoder.last_hidden_state().select(1, 0);
        let pooled = self.pre_classifier.forward(&cls).relu();
        self.classifier.forward_t(encoder, &pooled, train)
    }
}

impl PretrainedModel for DistilBertForSequenceClassification {
    type Config = DistilBertConfig;

    fn build(p: nn::Path, config: &DistilBertConfig) -> Self {
        Self::new(p, config)
    }

    /// A pre-trained DistilBERT fine-tunes into this: both head layers start fresh.
    fn load_spec() -> LoadSpec {
        LoadSpec::new("distilbert").allow_missing(["pre_classifier", "classifier"])
    }
}
