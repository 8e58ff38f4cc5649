//! What a stream's batches ask the model to predict, chosen by the model's objective: masked
//! tokens (BERT, DistilBERT, RoBERTa) or the next token (GPT-2).

use distil_core::Objective;
use rand::Rng;

use crate::batch::BatchRows;
use crate::config::MaskingConfig;
use crate::masking::Masker;
use crate::next_token::next_token_rows;
use crate::sequence::SpecialTokens;
use crate::DataError;

/// How a stream turns rows into a batch with targets.
#[derive(Debug, Clone)]
pub enum BatchTargets {
    /// Dynamic masking, fresh for every batch.
    Masked(Masker),
    /// The next token at every position; nothing is drawn.
    NextToken { pad_id: u32 },
}

impl BatchTargets {
    /// The targets `objective` needs. `counts` (one per vocabulary id) and the masking
    /// recipe are read for a masked LM only.
    pub fn new(
        objective: Objective,
        masking: &MaskingConfig,
        counts: &[u64],
        specials: &SpecialTokens,
    ) -> Result<Self, DataError> {
        Ok(match objective {
            Objective::MaskedLm => BatchTargets::Masked(Masker::new(masking, counts, specials)?),
            Objective::CausalLm => BatchTargets::NextToken {
                pad_id: specials.pad,
            },
        })
    }

    /// Pads `rows` and sets their targets; only masking draws from `rng`.
    pub fn apply<R: Rng + ?Sized>(
        &self,
        rows: &[&[u32]],
        rng: &mut R,
    ) -> Result<BatchRows, DataError> {
        match self {
            BatchTargets::Masked(masker) => masker.mask(rows, rng),
            BatchTargets::NextToken { pad_id } => Ok(next_token_rows(rows, *pad_id)),
        }
    }
}
