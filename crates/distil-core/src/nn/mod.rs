//! BERT-style building blocks on tch shared by the teacher and the student: layers built with
//! the Hugging Face initialisation, activations, attention (SDPA or eager), the transformer
//! layer, the embeddings and the task heads both architectures compute (each under the weight
//! names its parent passes in), and the reading of HF `config.json` files.

pub mod activation;
pub mod attention;
pub mod config_file;
pub mod encoder;
pub mod error;
pub mod heads;
pub mod layers;
pub mod mlm_head;
pub mod paths;
pub mod pretrained;
pub mod transformer_layer;
pub mod variables;
pub mod word_embeddings;

pub use activation::Activation;
pub use attention::{AttentionMask, MultiHeadAttention};
pub use config_file::{
    check_heads_divide, check_model_type, check_positive, check_tied_embeddings, label_count,
    parse_config, read_config_file, HfConfig,
};
pub use encoder::Encoder;
pub use error::ModelError;
pub use heads::{
    sequence_classification_loss, span_loss, ClassifierHead, MaskedLmOutput,
    QuestionAnsweringOutput, SequenceClassifierOutput, SpanHead,
};
pub use layers::{dropout, embedding, layer_norm, linear};
pub use mlm_head::{MlmHead, MlmHeadNames};
pub use paths::sub_path;
pub use pretrained::{build_and_load, read_weights, Pretrained, PretrainedModel};
pub use transformer_layer::{
    LayerNames, LayerOutput, LayerOutputs, LayerShape, ResidualNorm, TransformerLayer,
};
pub use variables::{copy_from_teacher, freeze_variable};
pub use word_embeddings::{segment_embeddings, WordEmbeddings, WordEmbeddingsShape};
