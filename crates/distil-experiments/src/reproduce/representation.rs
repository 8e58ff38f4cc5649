//! What the representation scores say beyond themselves: which layer choice the rule picks
//! (the best score on the validation pairs, never on the dev pairs the report shows), and each
//! ablation's change of the scores against the full recipe.

use std::collections::BTreeMap;

use super::ablation::Ablation;
use super::results::{
    LayerChoiceScore, RepresentationDelta, RepresentationScore, Results, STUDENT,
};

impl Results {
    /// Records the representation scores and what follows from them.
    pub fn set_representation(
        &mut self,
        scores: BTreeMap<String, RepresentationScore>,
        layer_choice: BTreeMap<String, LayerChoiceScore>,
        choice_order: &[String],
    ) {
        self.layer_choice_pick = pick_layers(&layer_choice, choice_order);
        self.representation_ablations = ablation_deltas(&scores);
        self.representation = scores;
        self.layer_choice = layer_choice;
    }
}

/// The choice with the highest validation score; a tie goes to the first in `order`.
pub fn pick_layers(
    choices: &BTreeMap<String, LayerChoiceScore>,
    order: &[String],
) -> Option<String> {
    order
        .iter()
        .filter_map(|key| Some((key, choices.get(key)?.sts_b_validation)))
        .filter(|(_, score)| score.is_finite())
        .fold(
            None,
            |best: Option<(&String, f64)>, (key, score)| match best {
                Some((_, top)) if top >= score => best,
                _ => Some((key, score)),
            },
        )
        .map(|(key, _)| key.clone())
}

/// Each ablation that was scored, in Table 4's order, minus the full recipe's scores.
pub fn ablation_deltas(scores: &BTreeMap<String, RepresentationScore>) -> Vec<RepresentationDelta> {
    let Some(full) = scores.get(STUDENT) else {
        return Vec::new();
    };
    Ablation::ALL
        .into_iter()
        .filter_map(|a| {
            let s = scores.get(a.name())?;
            Some(RepresentationDelta {
                name: a,
                sts_b_delta: s.sts_b_zero_shot - full.sts_b_zero_shot,
                sst2_probe_delta: s.sst2_probe - full.sst2_probe,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(dev: f64, validation: f64) -> LayerChoiceScore {
        LayerChoiceScore {
            sts_b_zero_shot: dev,
            sts_b_validation: validation,
        }
    }

    #[test]
    fn the_rule_reads_validation_never_dev() {
        let choices: BTreeMap<String, LayerChoiceScore> = [
            ("0,2,4".to_string(), choice(90.0, 70.0)),
            ("0,4,5".to_string(), choice(80.0, 75.0)),
            ("1,4,5".to_string(), choice(85.0, 75.0)),
        ]
        .into_iter()
        .collect();
        let order: Vec<String> = ["0,2,4", "1,4,5", "0,4,5"].map(String::from).to_vec();
        // 0,2,4 has the best dev score but not the best validation score; the tie between
        // 1,4,5 and 0,4,5 goes to the first listed.
        assert_eq!(pick_layers(&choices, &order).as_deref(), Some("1,4,5"));
        assert_eq!(pick_layers(&BTreeMap::new(), &order), None);
    }

    #[test]
    fn ablation_deltas_are_against_the_full_recipe_in_table_order() {
        let score = |sts, probe| RepresentationScore {
            sts_b_zero_shot: sts,
            sst2_probe: probe,
        };
        let scores: BTreeMap<String, RepresentationScore> = [
            (STUDENT.to_string(), score(85.0, 75.0)),
            ("random-init".to_string(), score(40.0, 60.0)),
            ("no-hidden-mse".to_string(), score(84.0, 76.5)),
            ("teacher".to_string(), score(87.0, 78.0)),
        ]
        .into_iter()
        .collect();
        let deltas: Vec<(Ablation, f64, f64)> = ablation_deltas(&scores)
            .iter()
            .map(|d| (d.name, d.sts_b_delta, d.sst2_probe_delta))
            .collect();
        assert_eq!(
            deltas,
            [
                (Ablation::RandomInit, -45.0, -15.0),
                (Ablation::NoHiddenMse, -1.0, 1.5)
            ]
        );
    }
}
