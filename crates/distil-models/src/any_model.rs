//! A BERT, a DistilBERT or a RoBERTa, chosen from `config.json`'s `model_type`, for code that
//! takes any of them (fill-mask, encode, a distiller's teacher or student).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use distil_core::checkpoint::{has_mlm_head, LoadSpec};
use distil_core::nn::{
    build_and_load, read_config_file, read_weights, HfConfig, MaskedLmOutput, ModelError,
    Pretrained, PretrainedModel,
};
use distil_core::{EncoderInput, EncoderOutput, MaskedLanguageModel};
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
            other => Err(ModelError::WrongModelType {
                dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                message: format!(
                    "config.json has model_type {}; expected \"bert\", \"distilbert\" or \
                     \"roberta\"",
                    other.map_or("(none)".to_string(), |t| format!("\"{t}\""))
                ),
            }),
        }
    }

    /// `config.json`'s `model_type`, which checkpoints with a head also use as the base
    /// model's prefix (`roberta.embeddings...`).
    pub fn model_type(&self) -> &'static str {
        match self {
            AnyConfig::Bert(_) => "bert",
            AnyConfig::DistilBert(_) => "distilbert",
            AnyConfig::Roberta(_) => "roberta",
        }
    }

    /// Prefixes of the MLM head's variables: BERT's `cls.predictions.*`, DistilBERT's
    /// `vocab_*`, RoBERTa's `lm_head.*` (the decoder weight is the word-embedding tensor, not
    /// one of them).
    pub fn mlm_head_prefixes(&self) -> &'static [&'static str] {
        match self {
            AnyConfig::Bert(_) => &["cls.predictions"],
            AnyConfig::DistilBert(_) => &["vocab_transform", "vocab_layer_norm", "vocab_projector"],
            AnyConfig::Roberta(_) => &["lm_head"],
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
        }
    }

    pub fn vocab_size(&self) -> i64 {
        match self {
            AnyConfig::Bert(c) => c.vocab_size,
            AnyConfig::DistilBert(c) => c.vocab_size,
            AnyConfig::Roberta(c) => c.vocab_size,
        }
    }
}

/// A masked language model of any kind.
#[derive(Debug)]
pub enum AnyMaskedLm {
    Bert(BertForMaskedLM),
    DistilBert(DistilBertForMaskedLM),
    Roberta(RobertaForMaskedLM),
}

impl AnyMaskedLm {
    /// Loads the MLM model `config.json` names; a checkpoint without an MLM head is an error.
    pub fn from_pretrained(
        dir: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, AnyConfig>, ModelError> {
        let config = AnyConfig::from_dir(dir)?;
        let (file, tensors) = read_weights_of(&config, dir)?;
        Self::from_tensors(config, &tensors, &file, device)
    }

    /// Loads the MLM model `config.json` names, with a freshly initialised head (zero bias)
    /// when the checkpoint has none; the second value says whether the head was loaded.
    pub fn from_pretrained_head_optional(
        dir: &Path,
        device: Device,
    ) -> Result<(Pretrained<Self, AnyConfig>, bool), ModelError> {
        let config = AnyConfig::from_dir(dir)?;
        let (file, tensors) = read_weights_of(&config, dir)?;
        if has_mlm_head(&tensors) {
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
                AnyMaskedLm::Bert,
                AnyConfig::Bert,
            ),
            AnyConfig::DistilBert(c) => wrap(
                DistilBertForMaskedLM::from_tensors(c, tensors, file, device)?,
                AnyMaskedLm::DistilBert,
                AnyConfig::DistilBert,
            ),
            AnyConfig::Roberta(c) => wrap(
                RobertaForMaskedLM::from_tensors(c, tensors, file, device)?,
                AnyMaskedLm::Roberta,
                AnyConfig::Roberta,
            ),
        })
    }

    /// Wraps a loaded DistilBERT masked LM.
    pub fn from_distilbert(
        loaded: Pretrained<DistilBertForMaskedLM, DistilBertConfig>,
    ) -> Pretrained<Self, AnyConfig> {
        wrap(loaded, AnyMaskedLm::DistilBert, AnyConfig::DistilBert)
    }

    /// Wraps a loaded RoBERTa masked LM.
    pub fn from_roberta(
        loaded: Pretrained<RobertaForMaskedLM, RobertaConfig>,
    ) -> Pretrained<Self, AnyConfig> {
        wrap(loaded, AnyMaskedLm::Roberta, AnyConfig::Roberta)
    }

    /// Builds a freshly initialised model of the kind `config` names in `vs`.
    pub fn new(p: tch::nn::Path, config: &AnyConfig) -> Self {
        match config {
            AnyConfig::Bert(c) => AnyMaskedLm::Bert(BertForMaskedLM::new(p, c)),
            AnyConfig::DistilBert(c) => AnyMaskedLm::DistilBert(DistilBertForMaskedLM::new(p, c)),
            AnyConfig::Roberta(c) => AnyMaskedLm::Roberta(RobertaForMaskedLM::new(p, c)),
        }
    }

    pub fn forward_t(&self, input: &EncoderInput, train: bool) -> MaskedLmOutput {
        match self {
            AnyMaskedLm::Bert(m) => m.forward_t(input, train),
            AnyMaskedLm::DistilBert(m) => m.forward_t(input, train),
            AnyMaskedLm::Roberta(m) => m.forward_t(input, train),
        }
    }

    fn inner(&self) -> &dyn MaskedLanguageModel {
        match self {
            AnyMaskedLm::Bert(m) => m,
            AnyMaskedLm::DistilBert(m) => m,
            AnyMaskedLm::Roberta(m) => m,
        }
    }
}

impl MaskedLanguageModel for AnyMaskedLm {
    fn encode(&self, input: &EncoderInput, train: bool) -> EncoderOutput {
        self.inner().encode(input, train)
    }

    fn mlm_logits(&self, hidden: &Tensor, train: bool) -> Tensor {
        self.inner().mlm_logits(hidden, train)
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
    MaskedLm(Box<AnyMaskedLm>),
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
    /// Vocabulary logits when the model has an MLM head.
    pub mlm_logits: Option<Tensor>,
}

impl AnyModel {
    /// Loads the model `config.json` names, with the MLM head when the weights hold one.
    pub fn from_pretrained(
        dir: &Path,
        device: Device,
    ) -> Result<Pretrained<Self, AnyConfig>, ModelError> {
        let config = AnyConfig::from_dir(dir)?;
        let (file, tensors) = read_weights_of(&config, dir)?;
        if has_mlm_head(&tensors) {
            let loaded = AnyMaskedLm::from_tensors(config, &tensors, &file, device)?;
            return Ok(wrap(loaded, |m| AnyModel::MaskedLm(Box::new(m)), |c| c));
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
        })
    }

    pub fn forward(&self, input: &EncoderInput) -> AnyModelOutput {
        let (encoder, pooled, mlm_logits) = match self {
            AnyModel::MaskedLm(m) => {
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
            mlm_logits,
        }
    }
}

/// The model types [`AnyConfig`] reads.
const MODEL_TYPES: [&str; 3] = ["bert", "distilbert", "roberta"];

/// Reads `dir`'s weights, refusing those of another model type (`bert.*` keys under a RoBERTa
/// config): loading them would fail on the first missing key, which hides the cause.
fn read_weights_of(
    config: &AnyConfig,
    dir: &Path,
) -> Result<(PathBuf, BTreeMap<String, Tensor>), ModelError> {
    let (file, tensors) = read_weights(dir)?;
    let has_base = |model_type: &str| {
        let prefix = format!("{model_type}.");
        tensors.keys().any(|k| k.starts_with(&prefix))
    };
    let expected = config.model_type();
    if !has_base(expected) {
        if let Some(found) = MODEL_TYPES.into_iter().find(|t| has_base(t)) {
            return Err(ModelError::WrongModelType {
                dir: dir.to_path_buf(),
                message: format!(
                    "config.json says model_type \"{expected}\", but {} holds a \"{found}\" \
                     checkpoint (its keys start with `{found}.`)",
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
