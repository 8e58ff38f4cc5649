//! What the SQuAD feature tests of every model family share: the shipped data and logits that
//! point at each window's target.

use distil_tasks::squad::{read_squad, BadAnswerPolicy, FeatureLogits, SquadDataset, SquadFeature};
use distil_testkit::repo_path;

/// The shipped SQuAD v2.0 subset (five dev articles).
pub fn shipped_squad() -> SquadDataset {
    let path = repo_path("data/squad/dev-v2.0-first5articles.json");
    read_squad(&path, BadAnswerPolicy::Error).expect("the shipped SQuAD subset reads")
}

/// Logits that put all weight on each window's training target.
pub fn perfect_logits(features: &[SquadFeature]) -> Vec<FeatureLogits> {
    features
        .iter()
        .map(|f| {
            let mut start = vec![0.0; f.text.len()];
            let mut end = vec![0.0; f.text.len()];
            start[f.start_position] = 10.0;
            end[f.end_position] = 10.0;
            FeatureLogits { start, end }
        })
        .collect()
}
