//! A BERT, a DistilBERT, a RoBERTa or a GPT-2, chosen from `config.json`'s `model_type`, for
//! code that takes any of them (fill-mask, encode, a distiller's teacher or student).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use distil_core::checkpoint::{has_mlm_head, LoadSpec};
use distil_core::nn::{
    build_and_load, read_config_file, read_weights, HfConfig, MaskedLmOutput, ModelError,
    Pretrained, PretrainedModel,
};
use distil_core::{EncoderInput, EncoderOutput, LanguageModel, Objective};
use distil_gpt2::{Gpt2Config, Gpt2LMHeadModel};
use distil_roberta::{RobertaConfig, RobertaForMaskedLM, RobertaModel};
use distil_student::{DistilBertConfig, DistilBertForMaskedLM, DistilBertModel};
use distil_teacher::{BertConfig, BertForMaskedLM, BertModel};
use tch::{Device, Tensor};

/// The config of any of the models; it serialises as the inner model's `config.json`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum AnyConfig {
    Bert(BertConfig),
    DistilBert(DistilBertConfig),
    Roberta(RobertaConfig),
    Gpt2(Gpt2Config),
}

impl AnyConfig {
    /// Reads `dir/config.json` and parses it as the model its `model_type` names.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        Self::from_file(&dir.join("config.json"))
    }

    /// Parses the `config.json` at `path` as the model its `model_type` names.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        #[derive(serde::Deserialize)]
        struct ModelType {
            model_type: Option<String>,
        }
        impl HfConfig for ModelType {
            fn validate(&self) -> Result<(), distil_core::config::InvalidKey> {
                Ok(())
            }
        }
        let kind: ModelType = read_config_file(path)?;
        match kind.model_type.as_deref() {
            Some("bert") => Ok(AnyConfig::Bert(read_config_file(path)?)),
            Some("distilbert") => Ok(AnyConfig::DistilBert(read_config_file(path)?)),
            Some("roberta") => Ok(AnyConfig::Roberta(read_config_file(path)?)),
            Some("gpt2") => Ok(AnyConfig::Gpt2(read_config_file(path)?)),
            other => Err(ModelError::WrongModelType {
                dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                message: format!(
                    "config.json has model_type {}; expected \"bert\", \"distilbert\", \
                     \"roberta\" or \"gpt2\"",
                    other.map_or("(none)".to_string(), |t| format!("\"{t}\""))
                ),
            }),
        }
    }

    /// `config.json`'s `model_type`.
    pub fn model_type(&self) -> &'static str {
        match self {
            AnyConfig::Bert(_) => "bert",
            AnyConfig::DistilBert(_) => "distilbert",
            AnyConfig::Roberta(_) => "roberta",
            AnyConfig::Gpt2(_) => "gpt2",
        }
    }

    /// The base model's prefix in checkpoints with a head (`roberta.embeddings...`,
    /// `transformer.wte...`).
    pub fn base_prefix(&self) -> &'static str {
        match self {
            AnyConfig::Gpt2(_) => distil_gpt2::model::GPT2_PREFIX,
            other => other.model_type(),
        }
    }

    /// Whether segment ids are passed to the model. GPT-2 has no segment table: given token
    /// types it adds their token embeddings, which `transformers` does only when asked.
    pub fn takes_token_types(&self) -> bool {
        !matches!(self, AnyConfig::Gpt2(_))
    }

    /// What the model's vocabulary head predicts.
    pub fn objective(&self) -> Objective {
        match self {
            AnyConfig::Gpt2(_) => Objective::CausalLm,
            _ => Objective::MaskedLm,
        }
    }

    /// Prefixes of the MLM head's variables: BERT's `cls.predictions.*`, DistilBERT's
    /// `vocab_*`, RoBERTa's `lm_head.*` (the decoder weight is the word-embedding tensor, not
    /// one of them). GPT-2's head is the token-embedding tensor alone: no variable of its own.
    pub fn mlm_head_prefixes(&self) -> &'static [&'static str] {
        match self {
            AnyConfig::Bert(_) => &["cls.predictions"],
            AnyConfig::DistilBert(_) => &["vocab_transform", "vocab_layer_norm", "vocab_projector"],
            AnyConfig::Roberta(_) => &["lm_head"],
            AnyConfig::Gpt2(_) => &[],
        }
    }

    /// Whether the variable `name` belongs to the MLM head.
    pub fn is_mlm_head_variable(&self, name: &str) -> bool {
        self.mlm_head_prefixes().iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('.'))
        })
    }

    /// The longest input the model takes. RoBERTa's position table also holds the padding
    /// index and the positions before it, which no token uses.
    pub fn max_position_embeddings(&self) -> i64 {
        match self {
            AnyConfig::Bert(c) => c.max_position_embeddings,
            AnyConfig::DistilBert(c) => c.max_position_embeddings,
            AnyConfig::Roberta(c) => c.max_position_embeddings - c.padding_idx() - 1,
            AnyConfig::Gpt2(c) => c.n_positions,
        }
    }

    pub fn vocab_size(&self) -> i64 {
        match self {
            AnyConfig::Bert(c) => c.vocab_size,
            AnyConfig::DistilBert(c) => c.vocab_size,
            AnyConfig::Roberta(c) => c.vocab_size,
            AnyConfig::Gpt2(c) => c.vocab_size,
        }
    }
}

/// A language model of any kind: a masked LM, or GPT-2 with its tied next-token head.
#[derive(Debug)]
pub enum AnyLanguageModel {
    Bert(BertForMaskedLM),
    DistilBert(DistilBertForMaskedLM),
    Roberta(RobertaForMaskedLM),
    Gpt2(Gpt2LMHeadModel),
}

impl AnyLanguageModel {
    /// Loads the language model `config.json` names; a masked LM's checkpoint without an MLM
    /// head is an error (GPT-2's head is its token embeddings, always there).
    pub fn from_pretrained(
        dir: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, AnyConfig>, ModelError> {
        let config = AnyConfig::from_dir(dir)?;
        let (file, tensors) = read_weights_of(&config, dir)?;
        Self::from_tensors(config, &tensors, &file, device)
    }

    /// Loads the language model `config.json` names, with a freshly initialised MLM head (zero
    /// bias) when the checkpoint has none; the second value says whether the head was loaded.
    pub fn from_pretrained_head_optional(
        dir: &Path,
        device: Device,
    ) -> Result<(Pretrained<Self, AnyConfig>, bool), ModelError> {
        let config = AnyConfig::from_dir(dir)?;
        let (file, tensors) = read_weights_of(&config, dir)?;
        if has_head(&config, &tensors) {
            return Ok((Self::from_tensors(config, &tensors, &file, device)?, true));
        }
        let spec =
            Self::load_spec(&config).allow_missing(config.mlm_head_prefixes().iter().copied());
        let loaded = build_and_load(config, &tensors, &file, &spec, device, |p, c| {
            Self::new(p, c)
        })?;
        Ok((loaded, false))
    }

    /// How a checkpoint's keys map onto the model `config` names.
    fn load_spec(config: &AnyConfig) -> LoadSpec {
        match config {
            AnyConfig::Bert(_) => BertForMaskedLM::load_spec(),
            AnyConfig::DistilBert(_) => DistilBertForMaskedLM::load_spec(),
            AnyConfig::Roberta(_) => RobertaForMaskedLM::load_spec(),
            AnyConfig::Gpt2(_) => Gpt2LMHeadModel::load_spec(),
        }
    }

    /// Builds the model `config` names and loads `tensors` (read from `file`) into it.
    pub fn from_tensors(
        config: AnyConfig,
        tensors: &BTreeMap<String, Tensor>,
        file: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, AnyConfig>, ModelError> {
        Ok(match config {
            AnyConfig::Bert(c) => wrap(
                BertForMaskedLM::from_tensors(c, tensors, file, device)?,
                AnyLanguageModel::Bert,
                AnyConfig::Bert,
            ),
            AnyConfig::DistilBert(c) => wrap(
                DistilBertForMaskedLM::from_tensors(c, tensors, file, device)?,
                AnyLanguageModel::DistilBert,
                AnyConfig::DistilBert,
            ),
            AnyConfig::Roberta(c) => wrap(
                RobertaForMaskedLM::from_tensors(c, tensors, file, device)?,
                AnyLanguageModel::Roberta,
                AnyConfig::Roberta,
            ),
            AnyConfig::Gpt2(c) => wrap(
                Gpt2LMHeadModel::from_tensors(c, tensors, file, device)?,
                AnyLanguageModel::Gpt2,
                AnyConfig::Gpt2,
            ),
        })
    }

    /// Wraps a loaded DistilBERT masked LM.
    pub fn from_distilbert(
        loaded: Pretrained<DistilBertForMaskedLM, DistilBertConfig>,
    ) -> Pretrained<Self, AnyConfig> {
        wrap(loaded, AnyLanguageModel::DistilBert, AnyConfig::DistilBert)
    }

    /// Wraps a loaded RoBERTa masked LM.
    pub fn from_roberta(
        loaded: Pretrained<RobertaForMaskedLM, RobertaConfig>,
    ) -> Pretrained<Self, AnyConfig> {
        wrap(loaded, AnyLanguageModel::Roberta, AnyConfig::Roberta)
    }

    /// Wraps a loaded GPT-2 language model.
    pub fn from_gpt2(
        loaded: Pretrained<Gpt2LMHeadModel, Gpt2Config>,
    ) -> Pretrained<Self, AnyConfig> {
        wrap(loaded, AnyLanguageModel::Gpt2, AnyConfig::Gpt2)
    }

    /// Builds a freshly initialised model of the kind `config` names in `vs`.
    pub fn new(p: tch::nn::Path, config: &AnyConfig) -> Self {
        match config {
            AnyConfig::Bert(c) => AnyLanguageModel::Bert(BertForMaskedLM::new(p, c)),
            AnyConfig::DistilBert(c) => {
                AnyLanguageModel::DistilBert(DistilBertForMaskedLM::new(p, c))
            }
            AnyConfig::Roberta(c) => AnyLanguageModel::Roberta(RobertaForMaskedLM::new(p, c)),
            AnyConfig::Gpt2(c) => AnyLanguageModel::Gpt2(Gpt2LMHeadModel::new(p, c)),
        }
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> MaskedLmOutput {
        match self {
            AnyLanguageModel::Bert(m) => m.forward_t(input, train),
            AnyLanguageModel::DistilBert(m) => m.forward_t(input, train),
            AnyLanguageModel::Roberta(m) => m.forward_t(input, train),
            AnyLanguageModel::Gpt2(m) => {
                let out = m.forward_t(input, train);
                MaskedLmOutput {
                    encoder: out.decoder,
                    logits: out.logits,
                }
            }
        }
    }

    fn inner(&self) -> &dyn LanguageModel {
        match self {
            AnyLanguageModel::Bert(m) => m,
            AnyLanguageModel::DistilBert(m) => m,
            AnyLanguageModel::Roberta(m) => m,
            AnyLanguageModel::Gpt2(m) => m,
        }
    }
}

impl LanguageModel for AnyLanguageModel {
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        self.inner().encode(input, train)
    }

    fn vocab_logits(&self, hidden: &Tensor, train: bool) -> Tensor {
        self.inner().vocab_logits(hidden, train)
    }

    fn hidden_size(&self) -> i64 {
        self.inner().hidden_size()
    }

    fn vocab_size(&self) -> i64 {
        self.inner().vocab_size()
    }
}

/// Any of the models, with its MLM head when the checkpoint has one (all-MiniLM-L6-v2, say, is
/// a base BERT with a pooler and no head).
#[derive(Debug)]
pub enum AnyModel {
    LanguageModel(Box<AnyLanguageModel>),
    Bert(BertModel),
    DistilBert(DistilBertModel),
    Roberta(RobertaModel),
}

/// What [`AnyModel::forward`] computes for a batch.
#[derive(Debug)]
pub struct AnyModelOutput {
    pub encoder: EncoderOutput,
    /// The pooler's output when the model has a pooler, else the first (`[CLS]`, `<s>`) state.
    pub pooled: Tensor,
    /// Vocabulary logits when the model has a head: a masked LM's, or GPT-2's next-token ones.
    pub vocab_logits: Option<Tensor>,
}

impl AnyModel {
    /// Loads the model `config.json` names, with the MLM head when the weights hold one (GPT-2
    /// always with its head).
    pub fn from_pretrained(
        dir: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, AnyConfig>, ModelError> {
        let config = AnyConfig::from_dir(dir)?;
        let (file, tensors) = read_weights_of(&config, dir)?;
        if has_mlm_head(&tensors) {
            let loaded = AnyLanguageModel::from_tensors(config, &tensors, &file, device)?;
            return Ok(wrap(
                loaded,
                |m| AnyModel::LanguageModel(Box::new(m)),
                |c| c,
            ));
        }
        Ok(match config {
            AnyConfig::Bert(c) => wrap(
                BertModel::from_tensors(c, &tensors, &file, device)?,
                AnyModel::Bert,
                AnyConfig::Bert,
            ),
            AnyConfig::DistilBert(c) => wrap(
                DistilBertModel::from_tensors(c, &tensors, &file, device)?,
                AnyModel::DistilBert,
                AnyConfig::DistilBert,
            ),
            AnyConfig::Roberta(c) => wrap(
                RobertaModel::from_tensors(c, &tensors, &file, device)?,
                AnyModel::Roberta,
                AnyConfig::Roberta,
            ),
            // A GPT-2's head is its token embeddings: it always loads with them.
            AnyConfig::Gpt2(c) => wrap(
                Gpt2LMHeadModel::from_tensors(c, &tensors, &file, device)?,
                |m| AnyModel::LanguageModel(Box::new(AnyLanguageModel::Gpt2(m))),
                AnyConfig::Gpt2,
            ),
        })
    }

    /// The encoder's hidden states alone, in eval mode: what a sentence embedding needs,
    /// without the pooler or the `[batch, seq, vocab]` logits of a model with a head.
    pub fn encode(&self, input: &EncoderInput) -> EncoderOutput {
        match self {
            AnyModel::LanguageModel(m) => m.encode(input, false),
            AnyModel::Bert(m) => m.forward_t(input, false),
            AnyModel::DistilBert(m) => m.forward_t(input, false),
            AnyModel::Roberta(m) => m.forward_t(input, false),
        }
    }

    pub fn forward(&self, input: &EncoderInput) -> AnyModelOutput {
        let (encoder, pooled, vocab_logits) = match self {
            AnyModel::LanguageModel(m) => {
                let out = m.forward_t(input, false);
                (out.encoder, None, Some(out.logits))
            }
            AnyModel::Bert(m) => {
                let encoder = m.forward_t(input, false);
                let pooled = m.pooled(&encoder);
                (encoder, pooled, None)
            }
            AnyModel::DistilBert(m) => (m.forward_t(input, false), None, None),
            AnyModel::Roberta(m) => {
                let encoder = m.forward_t(input, false);
                let pooled = m.pooled(&encoder);
                (encoder, pooled, None)
            }
        };
        let pooled = pooled.unwrap_or_else(|| encoder.last_hidden_state().select(1, 0));
        AnyModelOutput {
            encoder,
            pooled,
            vocab_logits,
        }
    }
}

/// The base-model prefixes of the model types [`AnyConfig`] reads.
const BASE_PREFIXES: [&str; 4] = ["bert", "distilbert", "roberta", "transformer"];

/// Whether `tensors` hold the model's vocabulary head (a GPT-2's is its token embeddings).
fn has_head(config: &AnyConfig, tensors: &BTreeMap<String, Tensor>) -> bool {
    config.objective() == Objective::CausalLm || has_mlm_head(tensors)
}

/// Reads `dir`'s weights, refusing those of another model type (`bert.*` keys under a RoBERTa
/// config): loading them would fail on the first missing key, which hides the cause.
fn read_weights_of(
    config: &AnyConfig,
    dir: &Path,
) -> Result<(PathBuf, BTreeMap<String, Tensor>), ModelError> {
    let (file, tensors) = read_weights(dir)?;
    let has_base = |prefix: &str| {
        let prefix = format!("{prefix}.");
        tensors.keys().any(|k| k.starts_with(&prefix))
    };
    let expected = config.base_prefix();
    if !has_base(expected) {
        if let Some(found) = BASE_PREFIXES.into_iter().find(|p| has_base(p)) {
            return Err(ModelError::WrongModelType {
                dir: dir.to_path_buf(),
                message: format!(
                    "config.json says model_type \"{}\", but the keys of {} start with \
                     `{found}.`, not `{expected}.`: another model type's checkpoint",
                    config.model_type(),
                    file.display()
                ),
            });
        }
    }
    Ok((file, tensors))
}

fn wrap<M, C, N, D>(
    loaded: Pretrained<M, C>,
    model: impl FnOnce(M) -> N,
    config: impl FnOnce(C) -> D,
) -> Pretrained<N, D> {
    Pretrained {
        vs: loaded.vs,
        model: model(loaded.model),
        config: config(loaded.config),
        report: loaded.report,
    }
}
