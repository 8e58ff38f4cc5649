//! Perplexity of a causal language model over a long token sequence, with the sliding window
//! of transformers' guide "Perplexity of fixed-length models".
//!
//! Windows of `max_length` tokens start every `stride` tokens; each window's targets are only
//! the tokens no earlier window scored (the others are labelled -100), so every token is
//! predicted once, with up to `max_length - stride` tokens of context carried over.
//!
//! The guide weighs each window's mean loss by `num_valid_tokens - batch_size`, the number of
//! non-ignored labels minus one for the internal shift. That count is exact for the first
//! window only: there the first label has no logit predicting it. In a later window the
//! targets are the last `trg_len` tokens and each has a predecessor inside the window, so the
//! shifted loss averages over all `trg_len` of them, and the guide's weight is one short. Here
//! each window's mean is weighted by the number of targets the shifted loss really averaged,
//! so the total is the exact sum of per-token negative log-likelihoods over the scored tokens
//! (when windows overlap, `stride < max_length`: tokens `1..n`, every one but the first), and
//! the perplexity is `exp(total / scored)`. With `stride == max_length` the windows are
//! disjoint and each window's first token goes unscored, as in the guide. The two differ by 0.1%
//! on the GPT-2 fixture (`data/fixtures/expected/gpt2-perplexity.json` holds both), less as
//! windows grow.

use distil_core::{EncoderInput, LanguageModel};
use distil_train::loss::causal_lm_loss;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::TaskError;

/// The window length and the step between window starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlidingWindow {
    /// Tokens per window (at most the model's positions).
    pub max_length: usize,
    /// Tokens between window starts, `1..=max_length`: a larger step would skip tokens.
    pub stride: usize,
}

/// One window: tokens `begin..end`, of which the last `targets` are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub begin: usize,
    pub end: usize,
    /// The guide's `trg_len`: the tokens after the previous window's end.
    pub targets: usize,
}

impl Window {
    /// The targets the shifted loss averages: all of them but the window's first token,
    /// which no logit predicts.
    pub fn scored(&self) -> usize {
        self.targets.min(self.end - self.begin - 1)
    }
}

impl SlidingWindow {
    /// Checks the lengths against each other: `max_length` of at least 2 (a window of one
    /// token predicts nothing) and `stride` in `1..=max_length`.
    pub fn validate(&self) -> Result<(), TaskError> {
        if self.max_length < 2 {
            return Err(TaskError::Config {
                key: "max_length",
                reason: format!("must be at least 2, found {}", self.max_length),
            });
        }
        if self.stride == 0 || self.stride > self.max_length {
            return Err(TaskError::Config {
                key: "stride",
                reason: format!(
                    "must be in 1..={} (max_length), found {}",
                    self.max_length, self.stride
                ),
            });
        }
        Ok(())
    }

    /// The guide's windows over `len` tokens, stopping at the first that reaches the end.
    pub fn windows(&self, len: usize) -> Vec<Window> {
        let mut windows = Vec::new();
        let mut previous_end = 0;
        for begin in (0..len).step_by(self.stride) {
            let end = (begin + self.max_length).min(len);
            windows.push(Window {
                begin,
                end,
                targets: end - previous_end,
            });
            previous_end = end;
            if end == len {
                break;
            }
        }
        windows
    }
}

/// The result of [`perplexity`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Perplexity {
    pub window: SlidingWindow,
    pub tokens: usize,
    pub windows: usize,
    /// Every token but the first when windows overlap; see the module docs.
    pub scored_tokens: usize,
    /// The summed negative log-likelihood (nats) of the scored tokens.
    pub nll_sum: f64,
    pub mean_nll: f64,
    /// `exp(mean_nll)`.
    pub perplexity: f64,
}

/// The perplexity of `model` on `token_ids` (see the module docs), running one window at a
/// time on `device` in eval mode; `on_window(done, total)` is called after each window.
/// `window.max_length` must not exceed the model's positions (the caller knows its config).
pub fn perplexity(
    model: &dyn LanguageModel,
    token_ids: &[i64],
    window: SlidingWindow,
    device: Device,
    mut on_window: impl FnMut(usize, usize),
) -> Result<Perplexity, TaskError> {
    window.validate()?;
    if token_ids.len() < 2 {
        return Err(TaskError::Config {
            key: "input",
            reason: format!(
                "{} token(s): at least 2 are needed to score one",
                token_ids.len()
            ),
        });
    }
    let windows = window.windows(token_ids.len());
    let (mut nll_sum, mut scored_tokens) = (0.0, 0);
    tch::no_grad(|| -> Result<(), TaskError> {
        for (done, w) in windows.iter().enumerate() {
            let ids = Tensor::from_slice(&token_ids[w.begin..w.end])
                .unsqueeze(0)
                .to_device(device);
            let length = (w.end - w.begin) as i64;
            let encoded = model.encode(&EncoderInput::new(&ids, &ids.ones_like()), false);
            let logits = model.vocab_logits(encoded.last_hidden_state(), false);
            // The loss counts a label where this mask is set: the window's targets only.
            let context = length - w.targets as i64;
            let targets = Tensor::cat(
                &[
                    Tensor::zeros([1, context], (Kind::Int64, device)),
                    Tensor::ones([1, w.targets as i64], (Kind::Int64, device)),
                ],
                1,
            );
            let mean =
                causal_lm_loss(&logits.to_kind(Kind::Float), &ids, &targets).f_double_value(&[])?;
            nll_sum += mean * w.scored() as f64;
            scored_tokens += w.scored();
            on_window(done + 1, windows.len());
        }
        Ok(())
    })?;
    let mean_nll = nll_sum / scored_tokens as f64;
    Ok(Perplexity {
        window,
        tokens: token_ids.len(),
        windows: windows.len(),
        scored_tokens,
        nll_sum,
        mean_nll,
        perplexity: mean_nll.exp(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use distil_core::EncoderOutput;

    /// Overlapping windows score every token but the first exactly once; disjoint ones skip
    /// each window's first token.
    #[test]
    fn windows_score_every_token_but_the_first_once() {
        for (len, max_length, stride) in [(10, 4, 2), (10, 4, 4), (11, 5, 3), (3, 8, 2), (2, 2, 1)]
        {
            let window = SlidingWindow { max_length, stride };
            let windows = window.windows(len);
            let mut scored = vec![0; len];
            for w in &windows {
                assert!(w.end - w.begin <= max_length);
                for count in &mut scored[w.end - w.scored()..w.end] {
                    *count += 1;
                }
            }
            let mut want = vec![1; len];
            let unscored = if stride == max_length { stride } else { len };
            for first in (0..len).step_by(unscored) {
                want[first] = 0;
            }
            assert_eq!(scored, want, "{len} {max_length} {stride}: {windows:?}");
        }
        let guide = SlidingWindow {
            max_length: 4,
            stride: 2,
        };
        assert_eq!(
            guide.windows(7),
            [
                Window {
                    begin: 0,
                    end: 4,
                    targets: 4
                },
                Window {
                    begin: 2,
                    end: 6,
                    targets: 2
                },
                Window {
                    begin: 4,
                    end: 7,
                    targets: 1
                },
            ]
        );
    }

    #[test]
    fn bad_lengths_name_the_key() {
        for (max_length, stride, key) in [(1, 1, "max_length"), (4, 0, "stride"), (4, 5, "stride")]
        {
            let err = SlidingWindow { max_length, stride }.validate().unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    /// A model whose every prediction is uniform over `V` tokens has perplexity `V`.
    struct Uniform(i64);

    impl LanguageModel for Uniform {
        fn encode(&self, input: &EncoderInput, _train: bool) -> EncoderOutput {
            let size = input.input_ids.size();
            EncoderOutput {
                hidden_states: vec![Tensor::zeros([size[0], size[1], 1], tch::kind::FLOAT_CPU)],
                attentions: None,
                projections: None,
            }
        }

        fn vocab_logits(&self, hidden: &Tensor, _train: bool) -> Tensor {
            hidden.repeat([1, 1, self.0])
        }

        fn hidden_size(&self) -> i64 {
            1
        }

        fn vocab_size(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn a_uniform_model_has_the_vocabulary_size_as_perplexity() {
        let ids: Vec<i64> = (0..23).map(|i| i % 7).collect();
        let window = SlidingWindow {
            max_length: 6,
            stride: 4,
        };
        let mut calls = Vec::new();
        let result = perplexity(&Uniform(7), &ids, window, Device::Cpu, |done, total| {
            calls.push((done, total))
        })
        .unwrap();
        assert_eq!(result.scored_tokens, 22);
        assert!((result.perplexity - 7.0).abs() < 1e-4, "{result:?}");
        assert_eq!(calls.len(), result.windows);
        assert_eq!(calls.last(), Some(&(result.windows, result.windows)));
        let err = perplexity(&Uniform(7), &ids[..1], window, Device::Cpu, |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("at least 2"), "{err}");
    }
}
