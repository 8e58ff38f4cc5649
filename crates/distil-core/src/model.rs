//! What every encoder model takes and returns, and the view of a language model (masked or
//! causal) that the distiller needs. BERT, DistilBERT, RoBERTa and GPT-2 implement it.

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
    /// Return this layer's (0-based) query, key and value projections, which MiniLM's
    /// self-attention relation loss reads.
    pub projections_of_layer: Option<usize>,
}

impl<'a> EncoderInput<'a> {
    pub fn new(input_ids: &'a Tensor, attention_mask: &'a Tensor) -> Self {
        Self {
            input_ids,
            attention_mask,
            token_type_ids: None,
            output_attentions: false,
            projections_of_layer: None,
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
    /// The projections of the layer [`EncoderInput::projections_of_layer`] names.
    pub projections: Option<AttentionProjections>,
}

/// A layer's query, key and value projections `[batch, seq, hidden]`, before the split into
/// heads.
#[derive(Debug)]
pub struct AttentionProjections {
    pub query: Tensor,
    pub key: Tensor,
    pub value: Tensor,
}

impl EncoderOutput {
    /// The last layer's output.
    pub fn last_hidden_state(&self) -> &Tensor {
        self.hidden_states
            .last()
            .expect("an encoder output always holds the embeddings' output")
    }
}

/// What a language model's head is trained to predict, which decides how batches are made:
/// masked inputs with the originals as targets, or unmasked inputs with the next tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Objective {
    /// The token at the same position, masked in the input (BERT, DistilBERT, RoBERTa).
    #[default]
    MaskedLm,
    /// The next token (GPT-2).
    CausalLm,
}

/// A language model as the distiller sees it: an encoder (for GPT-2, the decoder stack run over
/// the whole sequence with a causal mask), and a vocabulary head that can run on any rows of
/// hidden states, so logits are computed only where a loss reads them. A masked LM's logits at
/// position `i` predict the token at `i`; a causal LM's predict the token at `i + 1`.
pub trait LanguageModel {
    /// Runs the encoder; `train` turns dropout on. The last hidden state is the one the head
    /// reads.
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput;
    /// Vocabulary logits for hidden states `[..., hidden]`, giving `[..., vocab]`.
    fn vocab_logits(&self, hidden: &Tensor, train: bool) -> Tensor;
    fn hidden_size(&self) -> i64;
    fn vocab_size(&self) -> i64;
}
