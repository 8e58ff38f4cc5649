//! A frozen model of any family `distil_models::AnyModel` loads, turning sentences (or sentence
//! pairs) into pooled vectors, as sentence-transformers' `model.encode` does.

use std::path::Path;

use distil_amp::InferenceModeGuard;
use distil_core::nn::Pretrained;
use distil_data::{load_tokenizer, SpecialToken};
use distil_models::{AnyConfig, AnyModel};
use indicatif::{ProgressBar, ProgressStyle};
use tch::{Device, Kind, Tensor};
use tokenizers::{EncodeInput, Tokenizer, TruncationParams, TruncationStrategy};

use super::{Pooling, RepresentationError};
use crate::batch::{special_token_id, EncodedText, EncoderBatch, SegmentIds};
use crate::TaskError;

/// One input: a sentence, or a pair encoded as one sequence (`[CLS] a [SEP] b [SEP]`).
pub type Text<'a> = (&'a str, Option<&'a str>);

/// A loaded model and its tokenizer, truncating to `max_seq_length` tokens.
#[derive(Debug)]
pub struct SentenceEncoder {
    loaded: Pretrained<AnyModel, AnyConfig>,
    tokenizer: Tokenizer,
    pad_id: i64,
    max_seq_length: usize,
    device: Device,
}

impl SentenceEncoder {
    /// Loads the model in `model_dir` (BERT, DistilBERT, RoBERTa or GPT-2, from its
    /// `config.json`) on `device`, and the tokenizer `tokenizer` names (a directory, a
    /// `tokenizer.json` or a Hub id; default the model directory). Inputs are truncated to
    /// `max_seq_length` tokens, or to the model's positions when it has fewer (as
    /// sentence-transformers caps `max_seq_length` at the tokenizer's `model_max_length`).
    pub fn load(
        model_dir: &Path,
        tokenizer: Option<&str>,
        max_seq_length: usize,
        device: Device,
    ) -> Result<Self, RepresentationError> {
        let loaded = AnyModel::from_pretrained(model_dir, device)?;
        let positions = usize::try_from(loaded.config.max_position_embeddings()).unwrap_or(0);
        let max_seq_length = max_seq_length.min(positions);
        // A pair needs its three special tokens and one token of each sentence.
        if max_seq_length < 5 {
            return Err(TaskError::Config {
                key: "max_seq_length",
                reason: format!("{max_seq_length} is too short; at least 5"),
            }
            .into());
        }
        let spec = tokenizer.map_or_else(|| model_dir.display().to_string(), str::to_string);
        let mut tokenizer = load_tokenizer(&spec)?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_seq_length,
                strategy: TruncationStrategy::LongestFirst,
                ..TruncationParams::default()
            }))
            .map_err(|e| TaskError::Tokenizer(e.to_string()))?;
        // Padding is masked out, but RoBERTa numbers positions over the ids that are not it.
        let pad_id = special_token_id(&tokenizer, SpecialToken::Pad)?;
        Ok(Self {
            loaded,
            tokenizer,
            pad_id,
            max_seq_length,
            device,
        })
    }

    /// The tokens an input is truncated to (the model's positions when fewer were asked).
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    /// The pooled last hidden states of `texts`, `[texts, hidden]`, `Double` on the CPU, in
    /// the order given; `bar` advances by one per text. Inputs are batched by length, longest
    /// first, as sentence-transformers does: less padding, and the same vectors (padding is
    /// masked). The forward runs in inference mode.
    pub fn embed(
        &self,
        texts: &[Text<'_>],
        pooling: Pooling,
        batch_size: usize,
        bar: &ProgressBar,
    ) -> Result<Tensor, RepresentationError> {
        let encoded = self.tokenize(texts)?;
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].len()));
        let segments = if self.loaded.config.takes_token_types() {
            SegmentIds::Keep
        } else {
            SegmentIds::Drop
        };
        let mut rows: Vec<Vec<f64>> = vec![Vec::new(); encoded.len()];
        for chunk in order.chunks(batch_size.max(1)) {
            let batch: Vec<&EncodedText> = chunk.iter().map(|&i| &encoded[i]).collect();
            let batch = EncoderBatch::pad(&batch, self.pad_id, segments).to_device(self.device);
            let pooled = {
                let _inference = InferenceModeGuard::enter()?;
                let output = self.loaded.model.encode(&batch.encoder_input());
                let pooled = pooling.pool(output.last_hidden_state(), &batch.attention_mask)?;
                pooled
                    .f_to_device(Device::Cpu)?
                    .f_to_kind(Kind::Double)?
                    .f_contiguous()?
            };
            let values: Vec<Vec<f64>> = Vec::try_from(&pooled)?;
            for (&i, row) in chunk.iter().zip(values) {
                rows[i] = row;
            }
            bar.inc(chunk.len() as u64);
        }
        let hidden = rows.first().map_or(0, Vec::len);
        let flat: Vec<f64> = rows.into_iter().flatten().collect();
        Ok(Tensor::from_slice(&flat).f_view([texts.len() as i64, hidden as i64])?)
    }

    /// Each text with the tokenizer's special tokens, truncated longest-first.
    fn tokenize(&self, texts: &[Text<'_>]) -> Result<Vec<EncodedText>, RepresentationError> {
        let inputs: Vec<EncodeInput<'_>> = texts
            .iter()
            .map(|&(a, b)| match b {
                Some(b) => (a, b).into(),
                None => a.into(),
            })
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| TaskError::Tokenizer(e.to_string()))?;
        let ids = |values: &[u32]| values.iter().map(|&v| i64::from(v)).collect();
        Ok(encodings
            .iter()
            .map(|e| EncodedText {
                input_ids: ids(e.get_ids()),
                token_type_ids: ids(e.get_type_ids()),
            })
            .collect())
    }
}

/// A bar over the texts to embed, drawn on stderr; hidden unless `progress`.
pub fn progress_bar(texts: usize, progress: bool) -> ProgressBar {
    let bar = if progress {
        ProgressBar::new(texts as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {msg} {wide_bar} {pos}/{len} texts ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
