//! GPT-2 (`GPT2Model`, `GPT2LMHeadModel`) computing exactly what `transformers` computes;
//! DistilGPT2 is the same classes with fewer layers. Pre-LayerNorm decoder blocks with causal
//! self-attention, learned absolute positions, `Conv1D` projections (weights stored
//! `[in, out]`) and an output head tied to the token embeddings. Variable names equal HF
//! state-dict keys, so HF checkpoints load as they are.

pub mod attention;
pub mod block;
pub mod config;
pub mod conv1d;
pub mod lm_head_model;
pub mod mlp;
pub mod model;
pub mod student;

pub use config::Gpt2Config;
pub use conv1d::Conv1D;
pub use lm_head_model::{CausalLmOutput, Gpt2LMHeadModel};
pub use model::Gpt2Model;
pub use student::student_from_teacher;
