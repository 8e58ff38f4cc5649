//! Table 4's ablations: each one distils the student like the full recipe with one change, and
//! carries the change of the GLUE macro-score the paper reports for it.

use std::fmt;
use std::path::Path;

use distil_train::config::{StudentConfig, StudentInit};
use distil_train::LossConfig;
use serde::{Deserialize, Serialize};

/// One row of Table 4. Serialised (and displayed) as its name in `results.json` and
/// `report.md`: `no-ce`, `no-cos`, `no-mlm`, `random-init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ablation {
    /// No soft-target (distillation) loss.
    NoCe,
    /// No cosine loss between hidden states.
    NoCos,
    /// No masked-LM loss.
    NoMlm,
    /// Random student weights instead of teacher layers.
    RandomInit,
}

impl Ablation {
    /// Every ablation, in Table 4's order (which is the order they run in).
    pub const ALL: [Ablation; 4] = [
        Ablation::NoCe,
        Ablation::NoCos,
        Ablation::NoMlm,
        Ablation::RandomInit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Ablation::NoCe => "no-ce",
            Ablation::NoCos => "no-cos",
            Ablation::NoMlm => "no-mlm",
            Ablation::RandomInit => "random-init",
        }
    }

    /// Table 4: the change of the GLUE macro-score against the triple loss from teacher layers.
    pub fn paper_delta(self) -> f64 {
        match self {
            Ablation::NoCe => -2.96,
            Ablation::NoCos => -1.46,
            Ablation::NoMlm => -0.31,
            Ablation::RandomInit => -3.69,
        }
    }

    /// Changes the full recipe's loss weights or student initialisation into this ablation's.
    /// `random_config` is where the random-init student's `config.json` is to be written.
    pub fn apply(self, loss: &mut LossConfig, student: &mut StudentConfig, random_config: &Path) {
        match self {
            Ablation::NoCe => loss.alpha_ce = 0.0,
            Ablation::NoCos => loss.alpha_cos = 0.0,
            Ablation::NoMlm => loss.alpha_mlm = 0.0,
            Ablation::RandomInit => {
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
        let deltas: Vec<f64> = Ablation::ALL.iter().map(|a| a.paper_delta()).collect();
        assert_eq!(deltas, [-2.96, -1.46, -0.31, -3.69]);
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
