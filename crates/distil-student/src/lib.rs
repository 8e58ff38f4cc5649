//! The student: DistilBERT (`DistilBertModel` and its MLM, classification and QA heads),
//! computing exactly what `transformers` computes, and its initialisation from teacher layers.
