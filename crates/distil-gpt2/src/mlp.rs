//! `GPT2MLP`: `c_fc`, the activation, `c_proj` and dropout.

use distil_core::nn::{dropout, Activation};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::{Conv1D, Gpt2Config};

/// Mirrors `transformers.models.gpt2.modeling_gpt2.GPT2MLP`.
#[derive(Debug)]
pub struct Gpt2Mlp {
    pub c_fc: Conv1D,
    pub c_proj: Conv1D,
    activation: Activation,
    dropout: f64,
}

impl Gpt2Mlp {
    pub fn new(p: nn::Path, config: &Gpt2Config) -> Self {
        let (dim, inner) = (config.n_embd, config.inner_dim());
        Self {
            c_fc: Conv1D::new(&p / "c_fc", dim, inner, config.initializer_range),
            c_proj: Conv1D::new(&p / "c_proj", inner, dim, config.residual_init_range()),
            activation: config.activation_function,
            dropout: config.resid_pdrop,
        }
    }

    pub fn forward_t(&self, hidden: &Tensor, train: bool) -> Tensor {
        let inner = self.activation.forward(&self.c_fc.forward(hidden));
        dropout(&self.c_proj.forward(&inner), self.dropout, train)
    }
}
