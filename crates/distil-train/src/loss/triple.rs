//! The weighted sum of loss terms, built from `loss:` in the run config.

use tch::Tensor;

use super::{
    HiddenCosineLoss, LogitMseLoss, LossContext, LossTerm, MaskedLmLoss, Rows, SoftTargetLoss,
};
use crate::config::LossConfig;

/// `alpha_ce * L_ce + alpha_mlm * L_mlm + alpha_cos * L_cos + alpha_mse * L_mse`, plus any
/// further terms added with [`TripleLoss::with_term`]. Terms with weight 0 are not computed.
pub struct TripleLoss {
    terms: Vec<(f64, Box<dyn LossTerm>)>,
}

/// The weighted total (with gradients) and each term unweighted and detached, for logging.
pub struct LossOutput {
    pub total: Tensor,
    pub terms: Vec<(&'static str, Tensor)>,
}

impl LossOutput {
    /// Each term's value followed by `("loss", total)`, read to the host (a device sync).
    pub fn host_values(&self) -> Vec<(&'static str, f64)> {
        self.terms
            .iter()
            .map(|(name, value)| (*name, value.double_value(&[])))
            .chain([("loss", self.total.double_value(&[]))])
            .collect()
    }
}

impl TripleLoss {
    pub fn from_config(cfg: &LossConfig) -> Self {
        let kd_rows = if cfg.restrict_ce_to_mask {
            Rows::MlmTargets
        } else {
            Rows::NonPad
        };
        // KD terms first: they project the logits at every non-pad row, from which the MLM
        // term then takes its targets without a second projection.
        Self { terms: Vec::new() }
            .with_term(
                cfg.alpha_ce,
                SoftTargetLoss {
                    temperature: cfg.temperature,
                    rows: kd_rows,
                },
            )
            .with_term(cfg.alpha_mse, LogitMseLoss { rows: kd_rows })
            .with_term(cfg.alpha_mlm, MaskedLmLoss)
            .with_term(cfg.alpha_cos, HiddenCosineLoss)
    }

    /// Adds an objective with its weight; a weight of 0 leaves it out.
    pub fn with_term(mut self, weight: f64, term: impl LossTerm + 'static) -> Self {
        if weight > 0.0 {
            self.terms.push((weight, Box::new(term)));
        }
        self
    }

    /// Names of the active terms, in computation order.
    pub fn term_names(&self) -> Vec<&'static str> {
        self.terms.iter().map(|(_, t)| t.name()).collect()
    }

    /// Computes every term; the loop divides `total` by the accumulation count itself.
    pub fn compute(&self, ctx: &mut LossContext<'_>) -> LossOutput {
        let mut total: Option<Tensor> = None;
        let mut terms = Vec::with_capacity(self.terms.len());
        for (weight, term) in &self.terms {
            let value = term.compute(ctx);
            let weighted = &value * *weight;
            total = Some(match total {
                None => weighted,
                Some(sum) => sum + weighted,
            });
            terms.push((term.name(), value.detach()));
        }
        LossOutput {
            // Validation guarantees at least one positive weight.
            total: total.unwrap_or_else(|| Tensor::from(0f32)),
            terms,
        }
    }
}
