//! Every supported architecture behind one type, chosen from `config.json`'s `model_type`:
//! the code that takes any language model (fill-mask, encode, a distiller's teacher or
//! student, fine-tuning) loads it through here instead of matching on the architecture itself.

pub mod any_model;

pub use any_model::{AnyConfig, AnyLanguageModel, AnyModel, AnyModelOutput};
