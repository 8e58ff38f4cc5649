//! `Gpt2Config`: the serde mirror of a GPT-2 (or DistilGPT2) `config.json` as `transformers`
//! writes it (`model_type: "gpt2"`).

use std::path::Path;

use distil_core::config::InvalidKey;
use distil_core::nn::{
    check_heads_divide, check_model_type, check_positive, check_tied_embeddings, read_config_file,
    Activation, HfConfig, ModelError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A GPT-2 config, mirroring `transformers.GPT2Config`. Every key takes the default of
/// `GPT2Config()` in transformers 5.24 (gpt2-small's values) when absent. Keys this struct
/// does not know are kept in `extra` and written back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpt2Config {
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: i64,
    /// The rows of the position table: the longest sequence the model takes.
    #[serde(default = "defaults::n_positions")]
    pub n_positions: i64,
    #[serde(default = "defaults::n_embd")]
    pub n_embd: i64,
    #[serde(default = "defaults::n_layer")]
    pub n_layer: i64,
    #[serde(default = "defaults::n_head")]
    pub n_head: i64,
    /// The MLP's inner width; `None` means `4 * n_embd`.
    #[serde(default)]
    pub n_inner: Option<i64>,
    #[serde(default = "defaults::activation_function")]
    pub activation_function: Activation,
    /// Dropout on the attention and MLP outputs.
    #[serde(default = "defaults::dropout")]
    pub resid_pdrop: f64,
    /// Dropout on the summed token and position embeddings.
    #[serde(default = "defaults::dropout")]
    pub embd_pdrop: f64,
    /// Dropout on the attention probabilities.
    #[serde(default = "defaults::dropout")]
    pub attn_pdrop: f64,
    #[serde(default = "defaults::layer_norm_epsilon")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "defaults::initializer_range")]
    pub initializer_range: f64,
    /// Divide the attention scores by `sqrt(head_dim)`; only `true` is supported.
    #[serde(default = "defaults::yes")]
    pub scale_attn_weights: bool,
    /// Also divide them by the layer's index + 1; only `false` is supported.
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    /// An fp32 `baddbmm` for the eager scores: in fp32 it computes what the plain path does,
    /// so it is accepted and ignored.
    #[serde(default)]
    pub reorder_and_upcast_attn: bool,
    #[serde(default = "defaults::gpt2_special_token")]
    pub bos_token_id: Option<i64>,
    #[serde(default = "defaults::gpt2_special_token")]
    pub eos_token_id: Option<i64>,
    #[serde(default)]
    pub pad_token_id: Option<i64>,
    #[serde(default = "defaults::model_type")]
    pub model_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

mod defaults {
    use distil_core::nn::Activation;

    pub fn vocab_size() -> i64 {
        50257
    }
    pub fn n_positions() -> i64 {
        1024
    }
    pub fn n_embd() -> i64 {
        768
    }
    pub fn n_layer() -> i64 {
        12
    }
    pub fn n_head() -> i64 {
        12
    }
    pub fn activation_function() -> Activation {
        Activation::GeluNew
    }
    pub fn dropout() -> f64 {
        0.1
    }
    pub fn layer_norm_epsilon() -> f64 {
        1e-5
    }
    pub fn initializer_range() -> f64 {
        0.02
    }
    pub fn yes() -> bool {
        true
    }
    /// `<|endoftext|>` in GPT-2's vocabulary.
    pub fn gpt2_special_token() -> Option<i64> {
        Some(50256)
    }
    pub fn model_type() -> String {
        "gpt2".to_string()
    }
}

impl Gpt2Config {
    /// Reads `config.json` (a file, or the directory holding it).
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        read_config_file(path)
    }

    /// The MLP's inner width (`n_inner`, else `4 * n_embd`).
    pub fn inner_dim(&self) -> i64 {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    /// The init std of the projections back into the residual stream (`c_proj`), scaled by
    /// `1 / sqrt(2 * n_layer)` as `GPT2PreTrainedModel._init_weights` does.
    pub fn residual_init_range(&self) -> f64 {
        self.initializer_range / (2.0 * self.n_layer as f64).sqrt()
    }
}

impl HfConfig for Gpt2Config {
    fn validate(&self) -> Result<(), InvalidKey> {
        // First: any other architecture's config parses (every key has a default).
        check_model_type(&self.model_type, "gpt2")?;
        check_positive(&[
            ("vocab_size", self.vocab_size),
            ("n_positions", self.n_positions),
            ("n_embd", self.n_embd),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("n_inner", self.inner_dim()),
        ])?;
        check_heads_divide(("n_head", self.n_head), ("n_embd", self.n_embd))?;
        if !self.scale_attn_weights {
            return Err(InvalidKey::new(
                "scale_attn_weights",
                "unscaled attention scores are not supported",
            ));
        }
        if self.scale_attn_by_inverse_layer_idx {
            return Err(InvalidKey::new(
                "scale_attn_by_inverse_layer_idx",
                "per-layer attention scaling is not supported",
            ));
        }
        if self.extra.get("add_cross_attention") == Some(&Value::Bool(true)) {
            return Err(InvalidKey::new(
                "add_cross_attention",
                "only the decoder without cross-attention is supported",
            ));
        }
        check_tied_embeddings(&self.extra)
    }
}
