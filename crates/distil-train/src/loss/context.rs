//! What loss terms read: both models' outputs, the labels and the row indices, with logits
//! projected lazily at the rows a term asks for and shared between terms.

use std::collections::HashMap;

use distil_core::{EncoderOutput, MaskedLanguageModel};
use tch::{Kind, Tensor};

use super::rows::{as_f32, gather_rows, RowIndex, Rows};

/// One batch's forward results, as the training loop hands them to the losses.
pub struct LossInputs<'a> {
    pub student: &'a dyn MaskedLanguageModel,
    pub teacher: &'a dyn MaskedLanguageModel,
    pub student_out: &'a EncoderOutput,
    /// Computed under `no_grad`.
    pub teacher_out: &'a EncoderOutput,
    /// MLM labels `[batch, seq]` on the models' device, -100 where no prediction is made.
    pub labels: &'a Tensor,
    pub rows: &'a RowIndex,
    /// Dropout in the student's MLM head.
    pub train: bool,
}

/// Where the vocabulary head runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VocabProjection {
    /// Only at the rows a loss reads (non-pad or MLM targets): no `[batch, seq, vocab]`
    /// tensor is ever made.
    #[default]
    Rows,
    /// At every position, then the rows are selected, as the reference distiller does; kept
    /// to check and measure the saving.
    FullSequence,
}

/// [`LossInputs`] plus the logits computed so far, keyed by row choice.
pub struct LossContext<'a> {
    inputs: LossInputs<'a>,
    projection: VocabProjection,
    student_logits: HashMap<Rows, Tensor>,
    teacher_logits: HashMap<Rows, Tensor>,
}

#[derive(Clone, Copy)]
enum Side {
    Student,
    Teacher,
}

impl<'a> LossContext<'a> {
    pub fn new(inputs: LossInputs<'a>) -> Self {
        Self {
            inputs,
            projection: VocabProjection::Rows,
            student_logits: HashMap::new(),
            teacher_logits: HashMap::new(),
        }
    }

    /// Chooses where the vocabulary head runs (default [`VocabProjection::Rows`]).
    pub fn with_projection(mut self, projection: VocabProjection) -> Self {
        self.projection = projection;
        self
    }

    /// Number of rows of a choice (0 is possible: terms then return 0).
    pub fn count(&self, rows: Rows) -> i64 {
        self.inputs.rows.count(rows)
    }

    /// Student vocabulary logits `[N, vocab]` (fp32) at `rows`.
    pub fn student_logits(&mut self, rows: Rows) -> Tensor {
        self.logits(Side::Student, rows)
    }

    /// Teacher vocabulary logits `[N, vocab]` (fp32, no gradient) at `rows`.
    pub fn teacher_logits(&mut self, rows: Rows) -> Tensor {
        self.logits(Side::Teacher, rows)
    }

    /// Student and teacher logits at `rows`, or `None` when the batch has no such row.
    pub fn logit_pair(&mut self, rows: Rows) -> Option<(Tensor, Tensor)> {
        if self.count(rows) == 0 {
            return None;
        }
        Some((self.student_logits(rows), self.teacher_logits(rows)))
    }

    /// A zero that stays attached to the student's graph, for a term with no rows to read
    /// (torch would give NaN there, 0 / 0).
    pub fn zero_loss(&self) -> Tensor {
        self.inputs.student_out.last_hidden_state().sum(Kind::Float) * 0.0
    }

    /// The student's last hidden state `[N, hidden]` (fp32) at `rows`.
    pub fn student_hidden(&self, rows: Rows) -> Tensor {
        let last = self.inputs.student_out.last_hidden_state();
        as_f32(gather_rows(last, self.inputs.rows.get(rows)))
    }

    /// The teacher's last hidden state `[N, hidden]` (fp32, no gradient) at `rows`.
    pub fn teacher_hidden(&self, rows: Rows) -> Tensor {
        let last = self.inputs.teacher_out.last_hidden_state();
        as_f32(gather_rows(last, self.inputs.rows.get(rows)).detach())
    }

    /// MLM labels `[N]` at `rows`.
    pub fn labels(&self, rows: Rows) -> Tensor {
        self.inputs
            .labels
            .reshape([-1])
            .index_select(0, self.inputs.rows.get(rows))
    }

    fn logits(&mut self, side: Side, rows: Rows) -> Tensor {
        let cache = match side {
            Side::Student => &self.student_logits,
            Side::Teacher => &self.teacher_logits,
        };
        if let Some(hit) = cache.get(&rows) {
            return hit.shallow_clone();
        }
        // MLM targets are a subset of the non-pad rows: reuse those logits when present.
        let logits = match (rows, cache.get(&Rows::NonPad)) {
            (Rows::MlmTargets, Some(non_pad)) => {
                non_pad.index_select(0, self.inputs.rows.targets_in_non_pad())
            }
            _ => self.project(side, rows),
        };
        let cache = match side {
            Side::Student => &mut self.student_logits,
            Side::Teacher => &mut self.teacher_logits,
        };
        cache.insert(rows, logits.shallow_clone());
        logits
    }

    fn project(&self, side: Side, rows: Rows) -> Tensor {
        let index = self.inputs.rows.get(rows);
        if self.projection == VocabProjection::FullSequence {
            return self.project_full(side).index_select(0, index);
        }
        match side {
            Side::Student => {
                let hidden = gather_rows(self.inputs.student_out.last_hidden_state(), index);
                as_f32(self.inputs.student.mlm_logits(&hidden, self.inputs.train))
            }
            Side::Teacher => tch::no_grad(|| {
                let hidden = gather_rows(self.inputs.teacher_out.last_hidden_state(), index);
                as_f32(self.inputs.teacher.mlm_logits(&hidden, false))
            }),
        }
    }

    /// Logits `[batch * seq, vocab]` (fp32) at every position.
    fn project_full(&self, side: Side) -> Tensor {
        let flat = |out: &EncoderOutput| {
            let last = out.last_hidden_state();
            last.reshape([-1, last.size()[2]])
        };
        match side {
            Side::Student => as_f32(
                self.inputs
                    .student
                    .mlm_logits(&flat(self.inputs.student_out), self.inputs.train),
            ),
            Side::Teacher => tch::no_grad(|| {
                as_f32(
                    self.inputs
                        .teacher
                        .mlm_logits(&flat(self.inputs.teacher_out), false),
                )
            }),
        }
    }
}
