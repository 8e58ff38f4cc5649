//! Distillation training: the triple loss (soft-target KL, masked-LM cross-entropy, cosine
//! alignment), the AdamW optimiser and schedule, resumable checkpoints, and run logging.
