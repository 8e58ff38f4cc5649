//! `distil fill-mask`: the most likely tokens for each mask token of a text (`[MASK]`, or
//! RoBERTa's `<mask>`: the tokenizer's own), with their probabilities, from a BERT, DistilBERT
//! or RoBERTa masked-LM directory. Each candidate is printed as the tokenizer decodes it, as
//! `transformers`' fill-mask pipeline does.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use distil_core::{EncoderInput, Objective};
use distil_data::{load_tokenizer, SpecialToken};
use distil_models::AnyLanguageModel;
use tch::{Kind, Tensor};
use tokenizers::Tokenizer;

use crate::cli::GlobalOpts;

#[derive(Debug, Args)]
pub struct FillMaskArgs {
    /// A BERT, DistilBERT or RoBERTa masked-LM directory (the model type is read from
    /// config.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Tokenizer directory, file or Hub id; defaults to the model directory.
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// How many tokens to print per mask.
    #[arg(long, default_value_t = 5)]
    pub top_k: i64,
    /// Text with one or more mask tokens (`[MASK]`, or `<mask>` for RoBERTa).
    pub text: String,
}

pub fn run(global: &GlobalOpts, args: &FillMaskArgs) -> anyhow::Result<()> {
    let device = global.device.resolve().context("resolving --device")?;
    let loaded = AnyLanguageModel::from_pretrained(&args.model, device)
        .with_context(|| format!("loading {}", args.model.display()))?;
    if loaded.config.objective() != Objective::MaskedLm {
        bail!(
            "{} is a causal LM (model_type \"{}\"): it predicts the next token, not masked ones, \
             so fill-mask needs a masked LM",
            args.model.display(),
            loaded.config.model_type()
        );
    }
    let tokenizer_spec = args
        .tokenizer
        .clone()
        .unwrap_or_else(|| args.model.display().to_string());
    let tokenizer = load_tokenizer(&tokenizer_spec)?;
    let (mask_token, mask_id) = SpecialToken::Mask
        .find(&tokenizer)
        .with_context(|| format!("the tokenizer has no {} token", SpecialToken::Mask))?;
    let encoding = tokenizer
        .encode(args.text.as_str(), true)
        .map_err(|e| anyhow::anyhow!("tokenizing the text: {e}"))?;
    let ids: Vec<i64> = encoding.get_ids().iter().map(|&i| i64::from(i)).collect();
    let max_len = loaded.config.max_position_embeddings();
    if ids.len() as i64 > max_len {
        bail!(
            "the text has {} tokens; the model takes at most {max_len}",
            ids.len()
        );
    }
    let masks: Vec<usize> = (0..ids.len())
        .filter(|&i| ids[i] == i64::from(mask_id))
        .collect();
    if masks.is_empty() {
        bail!("the text has no {mask_token} token");
    }
    if args.top_k < 1 {
        bail!("--top-k must be at least 1");
    }
    let types: Vec<i64> = encoding
        .get_type_ids()
        .iter()
        .map(|&i| i64::from(i))
        .collect();
    let input_ids = Tensor::from_slice(&ids).unsqueeze(0).to_device(device);
    let token_types = Tensor::from_slice(&types).unsqueeze(0).to_device(device);
    let attention = input_ids.ones_like();
    let input = EncoderInput::new(&input_ids, &attention).with_token_types(&token_types);
    let logits = tch::no_grad(|| loaded.model.forward_t(&input, false).logits);
    for (n, &position) in masks.iter().enumerate() {
        let probs = logits.get(0).get(position as i64).softmax(-1, Kind::Float);
        let (values, indices) = probs.topk(args.top_k.min(probs.size()[0]), -1, true, true);
        let values = Vec::<f32>::try_from(values.to_device(tch::Device::Cpu))?;
        let indices = Vec::<i64>::try_from(indices.to_device(tch::Device::Cpu))?;
        if masks.len() > 1 {
            println!("{mask_token} {} (token {position}):", n + 1);
        }
        for (p, id) in values.iter().zip(&indices) {
            let token = candidate_text(&tokenizer, *id)?;
            println!("{token:<20} {p:.4}");
        }
    }
    Ok(())
}

/// A candidate as `transformers`' fill-mask pipeline shows it (`token_str`): the tokenizer's
/// decoding of that one id, so a byte-level `Ġpoet` reads ` poet` and a lone byte of a
/// multi-byte character `�`, while a WordPiece `##ly` stays `##ly` (it continues a word). An
/// id the tokenizer does not know (a model vocabulary padded past it) reads `<id N>`.
fn candidate_text(tokenizer: &Tokenizer, id: i64) -> anyhow::Result<String> {
    match u32::try_from(id) {
        Ok(known) if tokenizer.id_to_token(known).is_some() => tokenizer
            .decode(&[known], false)
            .map_err(|e| anyhow::anyhow!("decoding token {id}: {e}")),
        _ => Ok(format!("<id {id}>")),
    }
}
