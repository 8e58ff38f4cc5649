//! SQuAD v1.1 and v2.0: the official JSON reader, sliding-window features and training
//! targets in each model family's pair layout, n-best decoding to answer text, and the
//! official evaluation.

pub mod decode;
pub mod evaluate;
pub mod features;
pub mod layout;
pub mod reader;

pub use decode::{decode_answers, DecodeConfig, FeatureLogits, NbestAnswer, SquadPredictions};
pub use evaluate::{evaluate, exact_match, f1_score, normalize_answer, ScoreTotals, SquadScores};
pub use features::{DocStrideMode, QaBatch, SquadFeature, SquadFeatureConfig, SquadFeaturizer};
pub use layout::{LayoutIds, PairLayout};
pub use reader::{
    read_squad, BadAnswerPolicy, SkippedQuestion, SquadAnswer, SquadDataset, SquadExample,
    SquadVersion, UnknownSquadVersion,
};
