//! What loss terms read: both models' outputs, the labels and the row indices, with logits
//! projected lazily at the rows a term asks for and shared between terms.

use std::collections::HashMap;

use distil_core::{AttentionProjections, EncoderOutput, LanguageModel};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::rows::{as_f32, gather_rows, RowIndex, Rows};

/// One batch's forward results, as the training loop hands them to the losses.
pub struct LossInputs<'a> {
    pub student: &'a dyn LanguageModel,
    pub teacher: &'a dyn LanguageModel,
    pub student_out: &'a EncoderOutput,
    /// Computed under `no_grad`.
    pub teacher_out: &'a EncoderOutput,
    /// 1 for real tokens, 0 for padding, `[batch, seq]` on the models' device.
    pub attention_mask: &'a Tensor,
    /// MLM labels `[batch, seq]` on the models' device, -100 where no prediction is made.
    pub labels: &'a Tensor,
    pub rows: &'a RowIndex,
    /// Dropout in the student's MLM head.
    pub train: bool,
}

/// Where the vocabulary head runs (`step.projection: rows | full` in the run config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VocabProjection {
    /// Only at the rows a loss reads (non-pad or prediction targets): no `[batch, seq, vocab]`
    /// tensor is ever made.
    #[default]
    Rows,
    /// At every position, then the rows are selected, as the reference distiller does; kept
    /// to check and measure the saving.
    #[serde(rename = "full")]
    FullSequence,
}

/// The student's side of [`LossInputs`], for a run without a teacher (its LM term only).
pub struct StudentInputs<'a> {
    pub student: &'a dyn LanguageModel,
    pub student_out: &'a EncoderOutput,
    pub attention_mask: &'a Tensor,
    pub labels: &'a Tensor,
    pub rows: &'a RowIndex,
    pub train: bool,
}

/// The teacher and its output, when the run has one.
struct TeacherInputs<'a> {
    model: &'a dyn LanguageModel,
    out: &'a EncoderOutput,
}

/// The batch's inputs plus the logits computed so far, keyed by row choice.
pub struct LossContext<'a> {
    inputs: StudentInputs<'a>,
    teacher: Option<TeacherInputs<'a>>,
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
        let LossInputs {
            student,
            teacher,
            student_out,
            teacher_out,
            attention_mask,
            labels,
            rows,
            train,
        } = inputs;
        let mut ctx = Self::without_teacher(StudentInputs {
            student,
            student_out,
            attention_mask,
            labels,
            rows,
            train,
        });
        ctx.teacher = Some(TeacherInputs {
            model: teacher,
            out: teacher_out,
        });
        ctx
    }

    /// A context for the student alone: only terms that read no teacher (the MLM or CLM term) may
    /// run on it, which `DistillConfig::validate` guarantees for a run without a teacher.
    pub fn without_teacher(inputs: StudentInputs<'a>) -> Self {
        Self {
            inputs,
            teacher: None,
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
        let last = self.inputs.student_out.hidden_states.len() - 1;
        self.student_hidden_state(last, rows)
    }

    /// The teacher's last hidden state `[N, hidden]` (fp32, no gradient) at `rows`.
    pub fn teacher_hidden(&self, rows: Rows) -> Tensor {
        let last = self.teacher().out.hidden_states.len() - 1;
        self.teacher_hidden_state(last, rows)
    }

    /// The student's and the teacher's last hidden states `[batch, seq, hidden]` (fp32, the
    /// teacher's detached), padding included, for a term that reads each sequence as a whole.
    pub fn last_hidden_pair(&self) -> (Tensor, Tensor) {
        let student = self.inputs.student_out.last_hidden_state().shallow_clone();
        let teacher = self.teacher().out.last_hidden_state().detach();
        (as_f32(student), as_f32(teacher))
    }

    /// The student's hidden state `index` (0: the embeddings' output) `[N, hidden]` (fp32)
    /// at `rows`.
    pub fn student_hidden_state(&self, index: usize, rows: Rows) -> Tensor {
        let state = &self.inputs.student_out.hidden_states[index];
        as_f32(gather_rows(state, self.inputs.rows.get(rows)))
    }

    /// The teacher's hidden state `index` `[N, hidden]` (fp32, no gradient) at `rows`.
    pub fn teacher_hidden_state(&self, index: usize, rows: Rows) -> Tensor {
        let state = &self.teacher().out.hidden_states[index];
        as_f32(gather_rows(state, self.inputs.rows.get(rows)).detach())
    }

    /// The attention probabilities `[batch, heads, seq, seq]` (fp32) of student layer
    /// `student_layer` and teacher layer `teacher_layer` (0-based; the teacher's detached).
    /// The terms that read them ask the encoders for them ([`super::ModelNeeds`]).
    pub fn attention_pair(&self, student_layer: usize, teacher_layer: usize) -> (Tensor, Tensor) {
        let student = attention_maps(self.inputs.student_out)[student_layer].shallow_clone();
        let teacher = attention_maps(self.teacher().out)[teacher_layer].detach();
        (as_f32(student), as_f32(teacher))
    }

    /// The query, key and value projections of the layers the relation term asked each
    /// encoder for (the student's first, the teacher's under `no_grad`).
    pub fn projection_pair(&self) -> (&AttentionProjections, &AttentionProjections) {
        (
            layer_projections(self.inputs.student_out),
            layer_projections(self.teacher().out),
        )
    }

    /// 1 for real tokens, 0 for padding, `[batch, seq]`.
    pub fn attention_mask(&self) -> &Tensor {
        self.inputs.attention_mask
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
        // Targets are a subset of the non-pad rows: reuse those logits when present.
        let logits = match (rows, cache.get(&Rows::NonPad)) {
            (Rows::Targets, Some(non_pad)) => {
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
                as_f32(self.inputs.student.vocab_logits(&hidden, self.inputs.train))
            }
            Side::Teacher => tch::no_grad(|| {
                let teacher = self.teacher();
                let hidden = gather_rows(teacher.out.last_hidden_state(), index);
                as_f32(teacher.model.vocab_logits(&hidden, false))
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
                    .vocab_logits(&flat(self.inputs.student_out), self.inputs.train),
            ),
            Side::Teacher => tch::no_grad(|| {
                let teacher = self.teacher();
                as_f32(teacher.model.vocab_logits(&flat(teacher.out), false))
            }),
        }
    }

    fn teacher(&self) -> &TeacherInputs<'a> {
        self.teacher
            .as_ref()
            .expect("a teacher loss term ran without a teacher; validation rules this out")
    }
}

/// The projections an encoder returned.
fn layer_projections(out: &EncoderOutput) -> &AttentionProjections {
    out.projections
        .as_ref()
        .expect("the relation loss term asks the encoders for a layer's projections")
}

/// The attention maps an encoder returned.
fn attention_maps(out: &EncoderOutput) -> &[Tensor] {
    out.attentions
        .as_deref()
        .expect("an attention loss term asks the encoders for their attention maps")
}
