//! The student: DistilBERT (`DistilBertModel` and its MLM, classification and QA heads),
//! computing exactly what `transformers` computes, and its initialisation from teacher layers.
//! Variable names equal HF state-dict keys, so HF checkpoints load as they are.

pub mod config;
pub mod embeddings;
pub mod init_student;
pub mod masked_lm;
pub mod model;
pub mod question_answering;
pub mod sequence_classification;
pub mod shape;
pub mod transformer;

pub use config::DistilBertConfig;
pub use init_student::{
    check_teacher_layers, init_student, save_student, InitStudentError, StudentHead, PAPER_LAYERS,
};
pub use masked_lm::DistilBertForMaskedLM;
pub use model::DistilBertModel;
pub use question_answering::DistilBertForQuestionAnswering;
pub use sequence_classification::DistilBertForSequenceClassification;
pub use shape::StudentShape;
