//! `Conv1D`: GPT-2's linear layer, whose weight is stored `[in, out]` (transposed against
//! `nn.Linear`), so checkpoints load without transposing.

use tch::nn::{self, Init, Module};
use tch::Tensor;

/// Mirrors `transformers.pytorch_utils.Conv1D`: `x @ weight + bias`; keys `weight` `[in, out]`
/// and `bias` `[out]`, initialised N(0, `init_std`) and zero as GPT-2's `_init_weights` does.
#[derive(Debug)]
pub struct Conv1D {
    pub weight: Tensor,
    pub bias: Tensor,
}

impl Conv1D {
    pub fn new(p: nn::Path, in_dim: i64, out_dim: i64, init_std: f64) -> Self {
        let normal = Init::Randn {
            mean: 0.0,
            stdev: init_std,
        };
        Self {
            weight: p.var("weight", &[in_dim, out_dim], normal),
            bias: p.var("bias", &[out_dim], Init::Const(0.0)),
        }
    }
}

impl Module for Conv1D {
    /// `torch.addmm(bias, x.view(-1, in), weight)` reshaped back, as HF computes it.
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut shape = x.size();
        let in_dim = shape.pop().expect("Conv1D input has a feature dimension");
        shape.push(self.bias.size()[0]);
        self.bias
            .addmm(&x.reshape([-1, in_dim]), &self.weight)
            .view(shape.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// The same map as a linear layer whose weight is the transpose.
    #[test]
    fn is_a_linear_layer_with_the_weight_transposed() {
        tch::manual_seed(5);
        let vs = nn::VarStore::new(Device::Cpu);
        let mut conv = Conv1D::new(vs.root() / "c_fc", 4, 6, 0.5);
        assert_eq!(conv.weight.size(), [4, 6]);
        tch::no_grad(|| {
            conv.bias
                .copy_(&Tensor::randn([6], (Kind::Float, Device::Cpu)))
        });
        let x = Tensor::randn([2, 3, 4], (Kind::Float, Device::Cpu));
        let y = conv.forward(&x);
        assert_eq!(y.size(), [2, 3, 6]);
        let linear = x.linear(&conv.weight.tr(), Some(&conv.bias));
        let diff = (y - linear).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{diff}");
        let mut names: Vec<String> = vs.variables().into_keys().collect();
        names.sort();
        assert_eq!(names, ["c_fc.bias", "c_fc.weight"]);
    }
}
