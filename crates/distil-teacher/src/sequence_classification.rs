//! `BertForSequenceClassification`: pooler, dropout, `classifier`.

use distil_core::checkpoint::LoadSpec;
use distil_core::nn::{dropout, linear, PretrainedModel, SequenceClassifierOutput};
use distil_core::EncoderInput;
use tch::nn::{self, Module};

use crate::{BertConfig, BertModel};

#[derive(Debug)]
pub struct BertForSequenceClassification {
    pub bert: BertModel,
    pub classifier: nn::Linear,
    dropout: f64,
}

impl BertForSequenceClassification {
    pub fn new(p: nn::Path, config: &BertConfig) -> Self {
        Self {
            bert: BertModel::new(&p / "bert", config, true),
            classifier: linear(
                &p / "classifier",
                config.hidden_size,
                config.num_labels(),
                config.initializer_range,
            ),
            dropout: config.classifier_dropout(),
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
        let logits = self
            .classifier
            .forward(&dropout(&pooled, self.dropout, train));
        SequenceClassifierOutput { encoder, logits }
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
