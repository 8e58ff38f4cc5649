//! Activation functions named as in HF configs (`hidden_act`, `activation`).

use serde::{Deserialize, Serialize};
use tch::Tensor;

/// An activation as HF names it. `gelu` is the exact (erf) form, as in `transformers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Activation {
    #[default]
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation (`gelu_new`; `gelu_pytorch_tanh` computes the same function).
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluNew,
    #[serde(rename = "relu")]
    Relu,
}

impl Activation {
    pub fn forward(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => x.gelu("none"),
            Activation::GeluNew => x.gelu("tanh"),
            Activation::Relu => x.relu(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn values(a: Activation, xs: &[f64]) -> Vec<f64> {
        let x = Tensor::from_slice(xs).to_kind(Kind::Double);
        Vec::<f64>::try_from(a.forward(&x)).unwrap()
    }

    #[test]
    fn closed_forms() {
        let xs = [-2.0, -0.5, 0.0, 0.7, 3.0];
        let erf_gelu: Vec<f64> = xs
            .iter()
            .map(|&x| {
                let t = Tensor::from_slice(&[x / std::f64::consts::SQRT_2]).erf();
                0.5 * x * (1.0 + t.double_value(&[0]))
            })
            .collect();
        let tanh_gelu: Vec<f64> = xs
            .iter()
            .map(|&x: &f64| {
                let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3));
                0.5 * x * (1.0 + inner.tanh())
            })
            .collect();
        for (got, want) in [
            (values(Activation::Gelu, &xs), erf_gelu),
            (values(Activation::GeluNew, &xs), tanh_gelu),
            (values(Activation::Relu, &xs), vec![0.0, 0.0, 0.0, 0.7, 3.0]),
        ] {
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn parses_hf_names_and_rejects_others() {
        let parse = |s: &str| serde_json::from_str::<Activation>(&format!("\"{s}\""));
        assert_eq!(parse("gelu").unwrap(), Activation::Gelu);
        assert_eq!(parse("gelu_new").unwrap(), Activation::GeluNew);
        assert_eq!(parse("gelu_pytorch_tanh").unwrap(), Activation::GeluNew);
        assert_eq!(parse("relu").unwrap(), Activation::Relu);
        let err = parse("swish").unwrap_err().to_string();
        assert!(err.contains("swish"), "{err}");
    }
}
