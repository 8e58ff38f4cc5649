//! Fitting a teacher's MLM head on a frozen encoder: the soft targets of the triple loss need
//! vocabulary logits, and sentence-embedding checkpoints such as all-MiniLM-L6-v2 ship a bare
//! `BertModel`. Only the head trains (transform dense, LayerNorm and bias; the decoder is the
//! frozen word-embedding tensor), the encoder runs in eval mode without gradients, and the
//! result is scored on held-out shards beside the unigram baseline, so a head that learnt
//! nothing is an error rather than a silent bad teacher.

mod config;
mod fitter;
mod score;

pub use config::{HeadEvalConfig, HeadFitConfig, HeadOutputConfig, HeadTrainingConfig};
pub use fitter::{HeadFitOutcome, HeadFitter, HEAD_FIT_MODEL_DIR};
pub use score::{HeadScore, UnigramBaseline};
