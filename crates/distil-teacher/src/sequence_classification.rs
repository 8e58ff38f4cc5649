//! `BertForSequenceClassification`: pooler, dropout, `classifier`.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{ClassifierHead, PretrainedModel, SequenceClassifierOutput};
use distil_core::EncoderInput;
use tch::nn;

use crate::{BertConfig, BertModel};

#[derive(Debug)]
pub struct BertForSequenceClassification {
    pub bert: BertModel,
    /// Dropout (`classifier_dropout`) and `classifier` on the pooler's output.
    pub classifier: ClassifierHead,
}

impl BertForSequenceClassification {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        Self {
            bert: BertModel::new(&p / "bert", config, true),
            classifier: ClassifierHead::new(
                &p,
                config.hidden_size,
                config.num_labels(),
                config.classifier_dropout(),
                config.initializer_range,
            ),
        }
    }

    /// Logits `[batch, num_labels]`; the loss is
    /// [`distil_core::nn::sequence_classification_loss`] (MSE for one label, CE otherwise).
    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> SequenceClassifierOutput {
        let encoder = self.bert.forward_t(input, train);
        let pooled = self
            .bert
            .pooled(&encoder)
            .expect("built with a pooling layer");
        self.classifier.forward_t(encoder, &pooled, train)
    }
}

impl PretrainedModel for BertForSequenceClassification {
    type Config = BertConfig;

    fn build(p: nn::Path, config: &BertConfig) -> Self {
        Self::new(p, config)
    }

    /// A pre-trained BERT (MLM or base) fine-tunes into this: the classifier, and the pooler
    /// when the file has none, start fresh, as in `transformers`.
    fn load_spec() -> LoadSpec {
        LoadSpec::new("bert").allow_missing(["classifier", "bert.pooler"])
    }
}
