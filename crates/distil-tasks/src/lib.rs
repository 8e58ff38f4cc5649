//! Downstream tasks: GLUE (nine tasks) and SQuAD v1.1/v2.0 readers, features, fine-tuning
//! and task-time distillation, and each task's official metric.
