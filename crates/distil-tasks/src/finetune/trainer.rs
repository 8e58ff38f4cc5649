//! The fine-tuning loop shared by GLUE and SQuAD: shuffled epochs, AdamW with the linear
//! schedule and clipping, dev evaluation after each epoch, the best epoch kept, and resumable
//! checkpoints, logs and Ctrl-C handling from `distil-train`.

use std::collections::BTreeMap;
use std::time::Instant;

use distil_train::optim::clip_grad_norm;
use distil_train::rng::seed_micro_batch;
use distil_train::running_means::first_non_finite;
use distil_train::{
    AdamW, AdamWConfig, CheckpointManager, Interrupt, LinearWarmupDecay, MetricGoal, MetricsLogger,
    RunDir, RunningMeans, TrainError, TrainProgress, TrainerState,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;

use super::config::TrainingConfig;
use super::error::FinetuneError;
use super::loss::StepLoss;
use crate::batch::EncodedText;

/// A dev evaluation's scores.
pub trait Scored {
    /// Every score, keyed as the official scripts key them.
    fn metrics(&self) -> BTreeMap<String, f64>;
    /// The score that picks the best epoch (higher is better).
    fn main_metric(&self) -> f64;
}

/// What the loop needs from a task.
pub trait FineTuneTask {
    /// One training example as the model reads it.
    type Feature: AsRef<EncodedText>;
    type Evaluation: Scored;

    /// Training features.
    fn train_features(&self) -> &[Self::Feature];
    /// The loss on a batch of features (dropout on when `train`).
    fn batch_loss(&self, features: &[&Self::Feature], train: bool) -> StepLoss;
    /// Scores the model on the dev data (dropout off, no gradients).
    fn evaluate(&self) -> Result<Self::Evaluation, FinetuneError>;
}

/// How a run starts and reports.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    /// Continue from the newest checkpoint of the run folder.
    pub resume: bool,
    /// No progress bar.
    pub quiet: bool,
    pub interrupt: Interrupt,
}

/// How the loop ended.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopOutcome<E> {
    /// Stopped by Ctrl-C after saving a checkpoint; the run can be resumed.
    pub interrupted: bool,
    pub optimizer_steps: u64,
    /// The epoch (1-based) and main metric of the best evaluation, when one ran.
    pub best: Option<(u64, f64)>,
    /// The evaluation of the weights the loop leaves in the store, when the loop scored exactly
    /// those (the last epoch without `keep_best`, or with it when the last epoch was the best):
    /// the caller need not score them again.
    pub final_evaluation: Option<E>,
}

/// Where the data stream stands: epoch and batches done in it (saved in the trainer state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
struct EpochPosition {
    epoch: u64,
    batch: u64,
}

/// The order of the training features in `epoch`: a permutation seeded by `(seed, epoch)`,
/// so a resumed run sees the same batches.
fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}

/// Trains the variables of `vs` on `task`, evaluating after each epoch (or the last only: see
/// `evaluate_each_epoch`). With `keep_best`, the
/// best epoch's weights are back in `vs` when this returns (unless interrupted).
pub fn train<T: FineTuneTask>(
    task: &T,
    vs: &mut VarStore,
    config: &TrainingConfig,
    run: &RunDir,
    options: &LoopOptions,
) -> Result<LoopOutcome<T::Evaluation>, FinetuneError> {
    let train_features = task.train_features();
    let len = train_features.len();
    if len == 0 {
        return Err(FinetuneError::NoTrainingData(
            "the training split has no examples".into(),
        ));
    }
    let batch_size = config.train_batch_size;
    let batches_per_epoch = len.div_ceil(batch_size) as u64;
    let epochs = u64::from(config.epochs);
    let schedule = LinearWarmupDecay {
        peak_lr: config.learning_rate,
        warmup_steps: config.warmup_steps,
        total_steps: batches_per_epoch * epochs,
    };
    let mut optimizer = AdamW::new(
        vs,
        AdamWConfig {
            betas: (config.adam_betas[0], config.adam_betas[1]),
            eps: config.adam_epsilon,
            weight_decay: config.weight_decay,
        },
    );
    let manager = CheckpointManager::new(
        run.checkpoints_dir(),
        config.keep_last,
        MetricGoal::Maximize,
    );
    manager.remove_partial()?;
    let mut state = TrainerState::new(config.seed);
    let mut resume_step = None;
    if options.resume {
        if let Some(checkpoint) = manager.latest()? {
            state = checkpoint.restore(vs, &mut optimizer)?;
            resume_step = Some(state.optimizer_step);
            log::info!("resuming from {}", checkpoint.dir.display());
        }
    }
    let mut position: EpochPosition = if state.data_position.is_null() {
        EpochPosition::default()
    } else {
        serde_json::from_value(state.data_position.clone()).map_err(|source| TrainError::State {
            path: run.checkpoints_dir(),
            source,
        })?
    };
    let mut logger = MetricsLogger::open(
        &run.metrics_path(),
        Some(&run.tensorboard_dir()),
        resume_step,
    )?;
    let progress = TrainProgress::new(schedule.total_steps, state.optimizer_step, options.quiet);
    let mut means = RunningMeans::new();
    let mut best = None;
    let mut last_evaluation = None;
    let mut window_tokens = 0u64;
    let mut window_start = Instant::now();

    while position.epoch < epochs {
        let order = epoch_order(len, state.seed, position.epoch);
        let batches: Vec<&[usize]> = order.chunks(batch_size).collect();
        for batch in position.batch as usize..batches.len() {
            seed_micro_batch(state.seed, state.micro_step);
            let features: Vec<&T::Feature> =
                batches[batch].iter().map(|&i| &train_features[i]).collect();
            let tokens: u64 = features.iter().map(|f| (*f).as_ref().len() as u64).sum();
            let loss = task.batch_loss(&features, true);
            loss.total.backward();
            let grads = optimizer.grads();
            let grad_norm =
                (config.max_grad_norm > 0.0).then(|| clip_grad_norm(&grads, config.max_grad_norm));
            let lr = schedule.lr(state.optimizer_step);
            optimizer.step(lr);
            optimizer.zero_grad();
            state.optimizer_step += 1;
            state.micro_step += 1;
            state.tokens_seen += tokens;
            window_tokens += tokens;
            let mut logged: Vec<(&str, &tch::Tensor)> = vec![("loss", &loss.total)];
            logged.extend(loss.parts.iter().map(|(name, t)| (*name, t)));
            if let Some(norm) = &grad_norm {
                logged.push(("grad_norm", norm));
            }
            means.add(logged);
            position.batch = batch as u64 + 1;
            progress.set_step(state.optimizer_step);

            if state.optimizer_step % config.logging_steps == 0 {
                let mut metrics = means.take();
                if let Some((name, value)) = first_non_finite(&metrics) {
                    return Err(TrainError::NonFinite {
                        step: state.optimizer_step,
                        metric: name.to_string(),
                        value,
                    }
                    .into());
                }
                let tokens_per_s = window_tokens as f64 / window_start.elapsed().as_secs_f64();
                progress.show(metrics.get("loss").copied().unwrap_or(0.0), tokens_per_s);
                metrics.insert("lr".into(), lr);
                metrics.insert("tokens_per_s".into(), tokens_per_s);
                logger.log(state.optimizer_step, &metrics)?;
                (window_tokens, window_start) = (0, Instant::now());
            }
            let epoch_done = position.batch == batches.len() as u64;
            let scheduled =
                config.checkpoint_steps > 0 && state.optimizer_step % config.checkpoint_steps == 0;
            // The epoch's last step is checkpointed after its evaluation, with the score.
            if !epoch_done && (scheduled || options.interrupt.requested()) {
                state.epoch = position.epoch;
                state.data_position = serde_json::to_value(position).unwrap_or_default();
                manager.save(vs, &optimizer, &state, None)?;
                if options.interrupt.requested() {
                    progress.println(format!(
                        "interrupted at step {}: checkpoint saved; run again with --resume",
                        state.optimizer_step
                    ));
                    return Ok(LoopOutcome {
                        interrupted: true,
                        optimizer_steps: state.optimizer_step,
                        best,
                        final_evaluation: None,
                    });
                }
            }
        }

        let last_epoch = position.epoch + 1 == epochs;
        let mut score = None;
        if config.evaluate_each_epoch || last_epoch {
            let evaluation = tch::no_grad(|| task.evaluate())?;
            let main = evaluation.main_metric();
            let mut metrics: BTreeMap<String, f64> = evaluation
                .metrics()
                .into_iter()
                .map(|(k, v)| (format!("eval/{k}"), v))
                .collect();
            metrics.insert("epoch".into(), (position.epoch + 1) as f64);
            logger.log(state.optimizer_step, &metrics)?;
            progress.println(format!(
                "epoch {}/{epochs}: dev {}",
                position.epoch + 1,
                format_metrics(&evaluation.metrics())
            ));
            if best.is_none_or(|(_, b)| main > b) {
                best = Some((position.epoch + 1, main));
            }
            score = Some(main);
            last_evaluation = Some((position.epoch + 1, evaluation));
        }
        position = EpochPosition {
            epoch: position.epoch + 1,
            batch: 0,
        };
        state.epoch = position.epoch;
        state.data_position = serde_json::to_value(position).unwrap_or_default();
        manager.save(vs, &optimizer, &state, score)?;
        if options.interrupt.requested() && position.epoch < epochs {
            progress.println("interrupted: checkpoint saved; run again with --resume");
            return Ok(LoopOutcome {
                interrupted: true,
                optimizer_steps: state.optimizer_step,
                best,
                final_evaluation: None,
            });
        }
    }
    progress.finish();

    let final_evaluation = last_evaluation
        .filter(|(epoch, _)| !config.keep_best || best.is_some_and(|(b, _)| b == *epoch))
        .map(|(_, evaluation)| evaluation);
    if config.keep_best && final_evaluation.is_none() {
        if let Some(checkpoint) = manager.best()? {
            let path = checkpoint.model_path();
            vs.load(&path)
                .map_err(|e| TrainError::Tch { path, source: e })?;
            let epoch = checkpoint.read_state()?.epoch;
            best = checkpoint
                .read_state()?
                .best_metric
                .map(|metric| (epoch, metric))
                .or(best);
        }
    }
    Ok(LoopOutcome {
        interrupted: false,
        optimizer_steps: state.optimizer_step,
        best,
        final_evaluation,
    })
}

/// `name value` pairs for a log line.
pub fn format_metrics(metrics: &BTreeMap<String, f64>) -> String {
    metrics
        .iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_orders_are_permutations_fixed_by_seed_and_epoch() {
        let a = epoch_order(50, 42, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(50, 42, 0));
        assert_ne!(a, epoch_order(50, 42, 1));
        assert_ne!(a, epoch_order(50, 43, 0));
    }
}
