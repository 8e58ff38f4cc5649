//! RoBERTa (`RobertaModel`, `RobertaForMaskedLM`, `RobertaForSequenceClassification`,
//! `RobertaForQuestionAnswering`) computing exactly what `transformers` computes; DistilRoBERTa
//! is the same classes with fewer layers. The encoder layer is BERT's; what differs is the
//! position ids (counted from the padding index), the MLM head (`lm_head`) and the classifier
//! on `<s>`. Variable names equal HF state-dict keys, so HF checkpoints load as they are.

pub mod classification_head;
pub mod config;
pub mod embeddings;
pub mod encoder;
pub mod masked_lm;
pub mod model;
pub mod position_ids;
pub mod question_answering;
pub mod sequence_classification;
pub mod student;

pub use config::RobertaConfig;
pub use masked_lm::RobertaForMaskedLM;
pub use model::RobertaModel;
pub use position_ids::position_ids_from_input_ids;
pub use question_answering::RobertaForQuestionAnswering;
pub use sequence_classification::RobertaForSequenceClassification;
pub use student::student_from_teacher;
