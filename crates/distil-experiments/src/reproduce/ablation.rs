//! Table 4's ablations: each one distils the student like the full recipe with one change (one
//! loss term of the recipe left out, or a random initialisation), and carries the change of the
//! GLUE macro-score the paper reports for it where the paper has one.

use std::fmt;
use std::path::Path;

use distil_train::config::{StudentConfig, StudentInit};
use distil_train::LossConfig;
use serde::{Deserialize, Serialize};

/// One row of Table 4. Serialised (and displayed) as its name in `results.json` and
/// `report.md`: `no-ce`, `no-cos`, `no-mlm`, `random-init`, `no-hidden-mse`, `no-pooled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ablation {
    /// No soft-target (distillation) loss.
    NoCe,
    /// No cosine loss between hidden states.
    NoCos,
    /// No masked-LM loss.
    NoMlm,
    /// No hidden-state MSE (not one of the paper's terms).
    NoHiddenMse,
    /// No pooled-embedding distance (not one of the paper's terms).
    NoPooled,
    /// Random student weights instead of teacher layers.
    RandomInit,
}

impl Ablation {
    /// Every ablation, in Table 4's order (which is the order they run in), then the terms the
    /// paper does not have.
    pub const ALL: [Ablation; 6] = [
        Ablation::NoCe,
        Ablation::NoCos,
        Ablation::NoMlm,
        Ablation::RandomInit,
        Ablation::NoHiddenMse,
        Ablation::NoPooled,
    ];

    /// The ablations of a recipe: each of its weighted terms left out, as long as a weighted
    /// term remains, and the random initialisation. For the paper's triple loss these are
    /// Table 4's.
    pub fn of_recipe(loss: &LossConfig) -> Vec<Ablation> {
        Self::ALL
            .into_iter()
            .filter(|a| {
                let mut ablated = loss.clone();
                match a.term_weight(&mut ablated) {
                    None => true,
                    Some(weight) if *weight > 0.0 => {
                        *weight = 0.0;
                        ablated.validate().is_ok()
                    }
                    Some(_) => false,
                }
            })
            .collect()
    }

    /// The weight of the loss term this ablation leaves out (`None` for random init).
    fn term_weight(self, loss: &mut LossConfig) -> Option<&mut f64> {
        match self {
            Ablation::NoCe => Some(&mut loss.alpha_ce),
            Ablation::NoCos => Some(&mut loss.alpha_cos),
            Ablation::NoMlm => Some(&mut loss.alpha_mlm),
            Ablation::NoHiddenMse => Some(&mut loss.alpha_hidden_mse),
            Ablation::NoPooled => Some(&mut loss.alpha_pooled),
            Ablation::RandomInit => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Ablation::NoCe => "no-ce",
            Ablation::NoCos => "no-cos",
            Ablation::NoMlm => "no-mlm",
            Ablation::NoHiddenMse => "no-hidden-mse",
            Ablation::NoPooled => "no-pooled",
            Ablation::RandomInit => "random-init",
        }
    }

    /// Table 4: the change of the GLUE macro-score against the triple loss from teacher layers
    /// (`None` for a term the paper does not use).
    pub fn paper_delta(self) -> Option<f64> {
        match self {
            Ablation::NoCe => Some(-2.96),
            Ablation::NoCos => Some(-1.46),
            Ablation::NoMlm => Some(-0.31),
            Ablation::RandomInit => Some(-3.69),
            Ablation::NoHiddenMse | Ablation::NoPooled => None,
        }
    }

    /// Changes the full recipe's loss weights or student initialisation into this ablation's.
    /// `random_config` is where the random-init student's `config.json` is to be written.
    pub fn apply(self, loss: &mut LossConfig, student: &mut StudentConfig, random_config: &Path) {
        match self.term_weight(loss) {
            Some(weight) => *weight = 0.0,
            None => {
                student.init = StudentInit::Config;
                student.config = Some(random_config.to_path_buf());
                // A frozen random position table would handicap the ablation beyond the paper's.
                student.freeze_position_embeddings = false;
            }
        }
    }
}

impl fmt::Display for Ablation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_its_name() {
        for ablation in Ablation::ALL {
            assert_eq!(
                serde_json::to_value(ablation).unwrap_or_default(),
                serde_json::json!(ablation.name())
            );
            assert_eq!(ablation.to_string(), ablation.name());
        }
    }

    #[test]
    fn paper_deltas_are_table_4s() {
        let deltas: Vec<Option<f64>> = Ablation::ALL.iter().map(|a| a.paper_delta()).collect();
        assert_eq!(
            deltas,
            [
                Some(-2.96),
                Some(-1.46),
                Some(-0.31),
                Some(-3.69),
                None,
                None
            ]
        );
    }

    #[test]
    fn a_recipe_ablates_each_of_its_terms_while_another_remains() {
        // The paper's triple loss: Table 4's rows.
        assert_eq!(
            Ablation::of_recipe(&LossConfig::default()),
            [
                Ablation::NoCe,
                Ablation::NoCos,
                Ablation::NoMlm,
                Ablation::RandomInit
            ]
        );
        let two_terms = LossConfig {
            alpha_ce: 0.0,
            alpha_cos: 0.0,
            alpha_mlm: 0.0,
            alpha_hidden_mse: 1.0,
            alpha_pooled: 0.5,
            ..LossConfig::default()
        };
        assert_eq!(
            Ablation::of_recipe(&two_terms),
            [
                Ablation::RandomInit,
                Ablation::NoHiddenMse,
                Ablation::NoPooled
            ]
        );
        // One term: leaving it out would leave no loss, so only the initialisation changes.
        let one_term = LossConfig {
            alpha_pooled: 0.0,
            ..two_terms.clone()
        };
        assert_eq!(Ablation::of_recipe(&one_term), [Ablation::RandomInit]);
    }

    #[test]
    fn each_ablation_changes_one_part_of_the_recipe() {
        let path = Path::new("run/student-config.json");
        let changed = |ablation: Ablation| {
            let (mut loss, mut student) = (LossConfig::default(), StudentConfig::default());
            ablation.apply(&mut loss, &mut student, path);
            (loss, student)
        };
        let full = (LossConfig::default(), StudentConfig::default());
        let (loss, student) = changed(Ablation::NoCe);
        assert_eq!(
            (loss.alpha_ce, loss.alpha_mlm, loss.alpha_cos),
            (0.0, 2.0, 1.0)
        );
        assert_eq!(student.init, full.1.init);
        let (loss, _) = changed(Ablation::NoCos);
        assert_eq!(
            (loss.alpha_ce, loss.alpha_mlm, loss.alpha_cos),
            (5.0, 2.0, 0.0)
        );
        let (loss, _) = changed(Ablation::NoMlm);
        assert_eq!(
            (loss.alpha_ce, loss.alpha_mlm, loss.alpha_cos),
            (5.0, 0.0, 1.0)
        );
        let (loss, student) = changed(Ablation::RandomInit);
        assert_eq!(
            (loss.alpha_ce, loss.alpha_mlm, loss.alpha_cos),
            (5.0, 2.0, 1.0)
        );
        assert_eq!(student.init, StudentInit::Config);
        assert_eq!(student.config.as_deref(), Some(path));
        assert!(!student.freeze_position_embeddings);
        assert_eq!(student.teacher_layers, full.1.teacher_layers);
    }
}
