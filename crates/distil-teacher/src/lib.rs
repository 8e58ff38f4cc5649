//! The teacher: BERT (`BertModel`, `BertForMaskedLM`, `BertForSequenceClassification`,
//! `BertForQuestionAnswering`) computing exactly what `transformers` computes. Variable names
//! equal HF state-dict keys, so HF checkpoints load as they are.

pub mod config;
pub mod embeddings;
pub mod layer;
pub mod masked_lm;
pub mod model;
pub mod question_answering;
pub mod sequence_classification;

pub use config::BertConfig;
pub use masked_lm::BertForMaskedLM;
pub use model::BertModel;
pub use question_answering::BertForQuestionAnswering;
pub use sequence_classification::BertForSequenceClassification;
