//! The weighted sum of loss terms, built from `loss:` in the run config.

use distil_core::checkpoint::TRAINING_ONLY_PREFIX;
use distil_core::config::InvalidKey;
use tch::nn;
use tch::Tensor;

use super::{
    AttentionKlLoss, AttentionRelationLoss, CausalLmLoss, HiddenCosineLoss, HiddenMseLoss,
    LogitMseLoss, LossContext, LossTerm, MaskedLmLoss, ModelNeeds, PooledLoss, Rows,
    SoftTargetLoss,
};
use crate::config::{LossConfig, ModelDims};

/// Where the hidden-state projections live in the student's store (left out of exports).
const HIDDEN_PROJECTIONS: &str = "hidden_projection";

/// `alpha_ce * L_ce + alpha_mlm * L_mlm + alpha_clm * L_clm + alpha_cos * L_cos +
/// alpha_mse * L_mse + alpha_pooled * L_pooled`, plus any further terms added with
/// [`TripleLoss::with_term`]. Terms with weight 0 are not computed.
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
            Rows::Targets
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
            .with_term(cfg.alpha_clm, CausalLmLoss)
            .with_term(cfg.alpha_cos, HiddenCosineLoss)
            .with_term(
                cfg.alpha_pooled,
                PooledLoss {
                    distance: cfg.pooled_distance,
                },
            )
    }

    /// Adds the intermediate-layer terms `cfg` weighs (hidden-state MSE, attention KL,
    /// attention relations) for these two models. The hidden-state projections are created
    /// in `student_root`, the root of the student's store, under
    /// `distillation.hidden_projection`, so the optimizer and checkpoints see them. Fails
    /// only where [`crate::check_compatibility`] would.
    pub fn with_layer_terms(
        self,
        cfg: &LossConfig,
        student: &ModelDims,
        teacher: &ModelDims,
        student_root: &nn::Path,
        init_range: f64,
    ) -> Result<Self, InvalidKey> {
        let mut loss = self;
        let (student_layers, teacher_layers) =
            (student.n_layers as usize, teacher.n_layers as usize);
        if cfg.alpha_hidden_mse > 0.0 {
            let pairs = cfg
                .layer_map
                .hidden_state_pairs(student_layers, teacher_layers)?;
            let p = student_root / TRAINING_ONLY_PREFIX / HIDDEN_PROJECTIONS;
            let term = HiddenMseLoss::new(
                p,
                pairs,
                student.hidden_size,
                teacher.hidden_size,
                init_range,
            );
            loss = loss.with_term(cfg.alpha_hidden_mse, term);
        }
        if cfg.alpha_attention_kl > 0.0 {
            let pairs = cfg
                .layer_map
                .hidden_state_pairs(student_layers, teacher_layers)?;
            // Hidden state 0 is the embeddings' output: no attention to compare.
            let layer_pairs = pairs.into_iter().skip(1).collect();
            loss = loss.with_term(cfg.alpha_attention_kl, AttentionKlLoss { layer_pairs });
        }
        let relations = AttentionRelationLoss {
            relation_heads: cfg.relation_heads,
            student_layer: student_layers.saturating_sub(1),
            teacher_layer: cfg
                .relation_teacher_layer
                .unwrap_or(teacher_layers)
                .saturating_sub(1),
        };
        Ok(loss.with_term(cfg.alpha_attention_relations, relations))
    }

    /// What the active terms read from the encoders.
    pub fn needs(&self) -> ModelNeeds {
        self.terms
            .iter()
            .fold(ModelNeeds::default(), |needs, (_, term)| {
                needs.and(term.needs())
            })
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
