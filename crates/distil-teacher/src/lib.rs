//! The teacher: BERT (`BertModel`, `BertForMaskedLM`, `BertForSequenceClassification`,
//! `BertForQuestionAnswering`) computing exactly what `transformers` computes.
