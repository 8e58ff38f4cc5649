//! Linear, LayerNorm and embedding layers with the initialisation `transformers` gives BERT
//! and DistilBERT (`_init_weights`), always passed explicitly: tch's defaults (Kaiming-uniform
//! linear, N(0, 1) embeddings, eps 1e-5) differ.

use tch::nn::{self, Init};
use tch::Tensor;

/// `Linear(in, out)`: weight N(0, `init_range`), bias zero; keys `weight` and `bias`.
pub fn linear(p: nn::Path, in_dim: i64, out_dim: i64, init_range: f64) -> nn::Linear {
    let config = nn::LinearConfig {
        ws_init: Init::Randn {
            mean: 0.0,
            stdev: init_range,
        },
        bs_init: Some(Init::Const(0.0)),
        bias: true,
    };
    nn::linear(p, in_dim, out_dim, config)
}

/// `LayerNorm(dim, eps)`: weight 1, bias 0.
pub fn layer_norm(p: nn::Path, dim: i64, eps: f64) -> nn::LayerNorm {
    let config = nn::LayerNormConfig {
        eps,
        ..Default::default()
    };
    nn::layer_norm(p, vec![dim], config)
}

/// `Embedding(n, dim)`: weight N(0, `init_range`) with the padding row zeroed, and no gradient
/// flowing to the padding row, as `nn.Embedding(padding_idx=...)` does.
pub fn embedding(
    p: nn::Path,
    num_embeddings: i64,
    dim: i64,
    init_range: f64,
    padding_idx: Option<i64>,
) -> nn::Embedding {
    let config = nn::EmbeddingConfig {
        ws_init: Init::Randn {
            mean: 0.0,
            stdev: init_range,
        },
        padding_idx: padding_idx.unwrap_or(-1),
        ..Default::default()
    };
    let layer = nn::embedding(p, num_embeddings, dim, config);
    if let Some(row) = padding_idx.filter(|&i| (0..num_embeddings).contains(&i)) {
        let _ = tch::no_grad(|| layer.ws.get(row).zero_());
    }
    layer
}

/// Dropout that is the identity outside training (and when `p` is 0, to skip the kernel).
pub fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    if train && p > 0.0 {
        x.dropout(p, true)
    } else {
        x.shallow_clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::Module, Device, Kind};

    fn stats(t: &Tensor) -> (f64, f64) {
        (
            t.mean(Kind::Double).double_value(&[]),
            t.std(true).double_value(&[]),
        )
    }

    #[test]
    fn hf_initialisation() {
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let lin = linear(&root / "dense", 256, 512, 0.02);
        let (mean, std) = stats(&lin.ws);
        assert!(
            mean.abs() < 1e-3 && (std - 0.02).abs() < 1e-3,
            "{mean} {std}"
        );
        let bias = lin.bs.as_ref().unwrap();
        assert_eq!(bias.abs().max().double_value(&[]), 0.0);

        let ln = layer_norm(&root / "LayerNorm", 8, 1e-12);
        assert_eq!(
            Vec::<f32>::try_from(ln.ws.as_ref().unwrap()).unwrap(),
            vec![1.0; 8]
        );
        assert_eq!(
            Vec::<f32>::try_from(ln.bs.as_ref().unwrap()).unwrap(),
            vec![0.0; 8]
        );
        // eps from the argument: a constant row normalises to 0 without dividing by ~1e-5.
        let x = Tensor::from_slice(&[1e-4f32, -1e-4, 1e-4, -1e-4, 1e-4, -1e-4, 1e-4, -1e-4]);
        let y = Vec::<f32>::try_from(ln.forward(&x)).unwrap();
        assert!((y[0] - 1.0).abs() < 1e-3, "{y:?}");

        let emb = embedding(&root / "word_embeddings", 300, 64, 0.02, Some(0));
        assert_eq!(emb.ws.get(0).abs().max().double_value(&[]), 0.0);
        let (_, std) = stats(&emb.ws.narrow(0, 1, 299));
        assert!((std - 0.02).abs() < 1e-3, "{std}");

        let mut names: Vec<String> = vs.variables().into_keys().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "LayerNorm.bias",
                "LayerNorm.weight",
                "dense.bias",
                "dense.weight",
                "word_embeddings.weight"
            ]
        );
    }

    #[test]
    fn dropout_only_in_training() {
        let x = Tensor::ones([1000], (Kind::Float, Device::Cpu));
        assert_eq!(
            dropout(&x, 0.5, false).sum(Kind::Double).double_value(&[]),
            1000.0
        );
        let dropped = dropout(&x, 0.5, true);
        let zeros = dropped.eq(0.0).sum(Kind::Int64).int64_value(&[]);
        assert!((300..700).contains(&zeros), "{zeros}");
    }
}
