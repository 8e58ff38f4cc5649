//! The task heads both models end in (each under the name `transformers` gives it in both),
//! what they return, and their losses as `transformers` computes them.

use tch::nn::{self, Module};
use tch::{Kind, Reduction, Tensor};

use super::{dropout, linear};
use crate::EncoderOutput;

/// Dropout on a pooled `[batch, dim]` vector, then `classifier` to the label logits.
#[derive(Debug)]
pub struct ClassifierHead {
    pub classifier: nn::Linear,
    dropout: f64,
}

impl ClassifierHead {
    /// The variable `classifier` below `p` (the model's root).
    pub fn new(p: &nn::Path, dim: i64, num_labels: i64, dropout: f64, init_range: f64) -> Self {
        Self {
            classifier: linear(p / "classifier", dim, num_labels, init_range),
            dropout,
        }
    }

    pub fn forward_t(
        &self,
        encoder: EncoderOutput,
        pooled: &Tensor,
        train: bool,
    ) -> SequenceClassifierOutput {
        let logits = self
            .classifier
            .forward(&dropout(pooled, self.dropout, train));
        SequenceClassifierOutput { encoder, logits }
    }
}

/// Dropout on the last hidden states, then `qa_outputs` to start and end logits.
#[derive(Debug)]
pub struct SpanHead {
    pub qa_outputs: nn::Linear,
    dropout: f64,
}

impl SpanHead {
    /// The variable `qa_outputs` below `p` (the model's root); BERT has no dropout here (0).
    pub fn new(p: &nn::Path, dim: i64, dropout: f64, init_range: f64) -> Self {
        Self {
            qa_outputs: linear(p / "qa_outputs", dim, 2, init_range),
            dropout,
        }
    }

    pub fn forward_t(&self, encoder: EncoderOutput, train: bool) -> QuestionAnsweringOutput {
        let hidden = dropout(encoder.last_hidden_state(), self.dropout, train);
        let logits = self.qa_outputs.forward(&hidden);
        QuestionAnsweringOutput::from_logits(encoder, &logits)
    }
}

/// A masked-LM forward: the encoder's states and the vocabulary logits `[batch, seq, vocab]`.
#[derive(Debug)]
pub struct MaskedLmOutput {
    pub encoder: EncoderOutput,
    pub logits: Tensor,
}

/// A sequence-classification forward: logits `[batch, num_labels]`.
#[derive(Debug)]
pub struct SequenceClassifierOutput {
    pub encoder: EncoderOutput,
    pub logits: Tensor,
}

/// A span-extraction (QA) forward: start and end logits `[batch, seq]`.
#[derive(Debug)]
pub struct QuestionAnsweringOutput {
    pub encoder: EncoderOutput,
    pub start_logits: Tensor,
    pub end_logits: Tensor,
}

impl QuestionAnsweringOutput {
    /// Splits `qa_outputs`' `[batch, seq, 2]` logits into start and end.
    pub fn from_logits(encoder: EncoderOutput, logits: &Tensor) -> Self {
        Self {
            encoder,
            start_logits: logits.select(-1, 0).contiguous(),
            end_logits: logits.select(-1, 1).contiguous(),
        }
    }
}

/// HF's sequence-classification loss: mean squared error against float targets when there is
/// one label (regression, STS-B), cross-entropy against class ids otherwise.
pub fn sequence_classification_loss(logits: &Tensor, labels: &Tensor) -> Tensor {
    let num_labels = logits.size().last().copied().unwrap_or(1);
    if num_labels == 1 {
        logits
            .squeeze()
            .to_kind(Kind::Float)
            .mse_loss(&labels.squeeze().to_kind(Kind::Float), Reduction::Mean)
    } else {
        logits
            .view([-1, num_labels])
            .to_kind(Kind::Float)
            .cross_entropy_for_logits(&labels.view([-1]).to_kind(Kind::Int64))
    }
}

/// HF's QA loss: the mean of the start and end cross-entropies, with positions outside the
/// sequence clamped to `seq` and ignored.
pub fn span_loss(
    start_logits: &Tensor,
    end_logits: &Tensor,
    start_positions: &Tensor,
    end_positions: &Tensor,
) -> Tensor {
    let ignored = start_logits.size()[1];
    let part = |logits: &Tensor, positions: &Tensor| {
        logits.to_kind(Kind::Float).cross_entropy_loss::<Tensor>(
            &positions.to_kind(Kind::Int64).clamp(0, ignored),
            None,
            Reduction::Mean,
            ignored,
            0.0,
        )
    };
    (part(start_logits, start_positions) + part(end_logits, end_positions)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(t: &Tensor) -> f64 {
        t.double_value(&[])
    }

    #[test]
    fn one_label_is_mean_squared_error() {
        let logits = Tensor::from_slice(&[1.0f32, 2.0, 4.0]).view([3, 1]);
        let labels = Tensor::from_slice(&[1.0f32, 1.0, 1.0]);
        let loss = value(&sequence_classification_loss(&logits, &labels));
        assert!((loss - (0.0 + 1.0 + 9.0) / 3.0).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn several_labels_is_cross_entropy() {
        let logits = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 2.0, 0.0, 0.0]).view([2, 3]);
        let labels = Tensor::from_slice(&[1i64, 0]);
        let loss = value(&sequence_classification_loss(&logits, &labels));
        let row1 = 3f64.ln();
        let row2 = -(2f64.exp() / (2f64.exp() + 2.0)).ln();
        assert!((loss - (row1 + row2) / 2.0).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn span_loss_ignores_positions_beyond_the_sequence() {
        let start = Tensor::zeros([2, 4], (Kind::Float, tch::Device::Cpu));
        let end = Tensor::zeros([2, 4], (Kind::Float, tch::Device::Cpu));
        // Row 2's positions (9) clamp to 4 and are ignored; row 1 gives ln 4 on each side.
        let positions = Tensor::from_slice(&[1i64, 9]);
        let loss = value(&span_loss(&start, &end, &positions, &positions));
        assert!((loss - 4f64.ln()).abs() < 1e-6, "{loss}");
    }
}
