//! What every encoder model takes and returns, and the view of a masked language model that
//! the distiller needs. The teacher (BERT) and student (DistilBERT) crates implement these.

use tch::Tensor;

/// One batch as an encoder takes it.
#[derive(Debug)]
pub struct EncoderInput<'a> {
    /// Token ids, `[batch, seq]`, `Int64`.
    pub input_ids: &'a Tensor,
    /// 1 for real tokens, 0 for padding, `[batch, seq]` (any integer or bool kind).
    pub attention_mask: &'a Tensor,
    /// Segment ids, `[batch, seq]`; `None` means all zeros. Models without segment
    /// embeddings (DistilBERT) ignore them.
    pub token_type_ids: Option<&'a Tensor>,
    /// Return every layer's attention probabilities (forces the eager attention path).
    pub output_attentions: bool,
}

impl<'a> EncoderInput<'a> {
    pub fn new(input_ids: &'a Tensor, attention_mask: &'a Tensor) -> Self {
        Self {
            input_ids,
            attention_mask,
            token_type_ids: None,
            output_attentions: false,
        }
    }

    pub fn with_token_types(mut self, token_type_ids: &'a Tensor) -> Self {
        self.token_type_ids = Some(token_type_ids);
        self
    }
}

/// Everything an encoder computed.
#[derive(Debug)]
pub struct EncoderOutput {
    /// The embeddings' output followed by each layer's output: `n_layers + 1` tensors of
    /// `[batch, seq, hidden]`, as `output_hidden_states=True` gives in `transformers`.
    pub hidden_states: Vec<Tensor>,
    /// Each layer's attention probabilities `[batch, heads, seq, seq]`, when asked for.
    pub attentions: Option<Vec<Tensor>>,
}

impl EncoderOutput {
    /// The last layer's output.
    pub fn last_hidden_state(&self) -> &Tensor {
        self.hidden_states
            .last()
            .expect("an encoder output always holds the embeddings' output")
    }
}

/// A masked language model as the distiller sees it: an encoder, and a vocabulary head that
/// can run on any rows of hidden states (so logits can be computed only where a loss needs
/// them).
pub trait MaskedLanguageModel {
    /// Runs the encoder; `train` turns dropout on.
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput;
    /// Vocabulary logits for hidden states `[..., hidden]`, giving `[..., vocab]`.
    fn mlm_logits(&self, hidden: &Tensor, train: bool) -> Tensor;
    fn hidden_size(&self) -> i64;
    fn vocab_size(&self) -> i64;
}
