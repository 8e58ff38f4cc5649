//! BERT-style building blocks on tch shared by the teacher and the student: layers built with
//! the Hugging Face initialisation, activations, attention (SDPA or eager) and the reading of
//! HF `config.json` files.

pub mod activation;
pub mod attention;
pub mod config_file;
pub mod encoder;
pub mod error;
pub mod heads;
pub mod layers;
pub mod pretrained;
pub mod variables;

pub use activation::Activation;
pub use attention::{AttentionMask, MultiHeadAttention};
pub use config_file::{check_positive, label_count, parse_config, read_config_file, HfConfig};
pub use encoder::{run_layers, EncoderLayer};
pub use error::ModelError;
pub use heads::{
    sequence_classification_loss, span_loss, MaskedLmOutput, QuestionAnsweringOutput,
    SequenceClassifierOutput,
};
pub use layers::{dropout, embedding, layer_norm, linear};
pub use pretrained::{build_and_load, read_weights, Pretrained, PretrainedModel};
pub use variables::freeze_variable;
