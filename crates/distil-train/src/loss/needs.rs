//! What the loss terms read from each encoder beyond its hidden states, so that the step asks
//! for attention maps (which select the slower eager attention) and projections only when a
//! term uses them.

use distil_core::EncoderInput;

/// Outputs one encoder must return.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncoderNeeds {
    /// Every layer's attention probabilities.
    pub attentions: bool,
    /// One layer's (0-based) query, key and value projections.
    pub projections_of_layer: Option<usize>,
}

impl EncoderNeeds {
    /// Both terms' needs (at most one term reads projections; validation keeps it so).
    pub fn and(self, other: Self) -> Self {
        Self {
            attentions: self.attentions || other.attentions,
            projections_of_layer: self.projections_of_layer.or(other.projections_of_layer),
        }
    }

    /// Asks `input` for these outputs, keeping what it already asks for.
    pub fn apply(&self, input: &mut EncoderInput<'_>) {
        input.output_attentions |= self.attentions;
        if self.projections_of_layer.is_some() {
            input.projections_of_layer = self.projections_of_layer;
        }
    }
}

/// The student's and the teacher's needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelNeeds {
    pub student: EncoderNeeds,
    pub teacher: EncoderNeeds,
}

impl ModelNeeds {
    pub fn and(self, other: Self) -> Self {
        Self {
            student: self.student.and(other.student),
            teacher: self.teacher.and(other.teacher),
        }
    }
}
