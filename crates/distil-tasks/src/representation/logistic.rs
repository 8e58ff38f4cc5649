//! L2-regularised logistic regression with scikit-learn's `LogisticRegression` objective,
//! fitted by Newton's method in f64, so a probe's numbers compare with sklearn's.
//!
//! The objective is sklearn's, for `C = 1 / l2`:
//!
//! ```text
//! C * sum_i log_loss(y_i, softmax(W x_i + b)) + 0.5 * ||W||^2      (b unpenalised)
//! ```
//!
//! With two classes sklearn fits one vector (`coef_` is `[1, features]`: class 1's logit
//! against class 0's fixed at 0); with more, one per class (`[classes, features]`), whose
//! intercepts are only defined up to a common shift: like sklearn's lbfgs, started at zero,
//! the fit keeps them summing to zero. The equivalent in Python:
//!
//! ```python
//! LogisticRegression(C=1 / l2, solver="lbfgs", tol=1e-10, max_iter=10000).fit(x, y)
//! ```
//!
//! The Hessian is formed whole (`(d + 1) * k` square), which is cheap for encoder widths
//! (384 to 1024) and a few classes, and Newton's steps with a backtracking line search reach
//! the optimum to machine precision in a handful of iterations, deterministically.

use tch::{Device, Kind, Tensor};

use crate::TaskError;

/// The penalty and when to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticOptions {
    /// The L2 penalty's weight, `1 / C` in sklearn's terms; positive.
    pub l2: f64,
    /// Newton iterations at most.
    pub max_iter: usize,
    /// Stop when every gradient entry of the objective divided by `C * n` (sklearn's scaling:
    /// the mean loss plus the penalty over `C * n`) is at most this.
    pub tol: f64,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        Self {
            l2: 1.0,
            max_iter: 100,
            tol: 1e-10,
        }
    }
}

/// A fitted classifier: sklearn's `coef_` and `intercept_`, in `Double` on the CPU.
#[derive(Debug)]
pub struct LogisticRegression {
    /// `[1, features]` for two classes, `[classes, features]` for more.
    pub coef: Tensor,
    /// `[1]` or `[classes]`.
    pub intercept: Tensor,
    pub classes: usize,
    /// Newton iterations run.
    pub iterations: usize,
    /// Whether the gradient reached `tol` within `max_iter` iterations.
    pub converged: bool,
}

impl LogisticRegression {
    /// Fits `features` (`[n, d]`) to `labels` (class ids below `classes`, at least 2); see the
    /// module docs.
    pub fn fit(
        features: &Tensor,
        labels: &[usize],
        classes: usize,
        options: &LogisticOptions,
    ) -> Result<Self, TaskError> {
        let size = features.size();
        if size.len() != 2 || size[0] != labels.len() as i64 || labels.is_empty() {
            return Err(mismatch(
                "features for the labels",
                format!("[{}, features] with at least one row", labels.len()),
                format!("{size:?}"),
            ));
        }
        if classes < 2 || labels.iter().any(|&l| l >= classes) {
            return Err(mismatch(
                "class ids",
                format!("ids below {classes}, at least 2 classes"),
                format!("{:?}", labels.iter().max()),
            ));
        }
        if !(options.l2 > 0.0 && options.l2.is_finite()) {
            return Err(TaskError::Config {
                key: "l2",
                reason: format!("must be positive and finite, found {}", options.l2),
            });
        }
        let problem = Problem::new(features, labels, classes, options.l2)?;
        let mut theta = Tensor::f_zeros([problem.params, problem.columns], DOUBLE)?;
        let (mut value, mut gradient, mut probabilities) = problem.evaluate(&theta)?;
        // sklearn's scaling: the gradient of the mean loss plus the penalty over C * n.
        let scale = problem.c * labels.len() as f64;
        let small = |gradient: &Tensor| -> Result<bool, TaskError> {
            Ok(gradient.f_abs()?.f_max()?.f_double_value(&[])? / scale <= options.tol)
        };
        let mut iterations = 0;
        let mut converged = small(&gradient)?;
        while !converged && iterations < options.max_iter {
            iterations += 1;
            let step = problem.newton_step(&gradient, &probabilities)?;
            let decrement = gradient
                .f_mul(&step)?
                .f_sum(Kind::Double)?
                .f_double_value(&[])?;
            // Backtracking (Armijo); near the optimum the full step is taken.
            let mut t = 1.0;
            let mut moved = false;
            for _ in 0..MAX_HALVINGS {
                let candidate = theta.f_sub(&step.f_mul_scalar(t)?)?;
                let (candidate_value, candidate_gradient, candidate_probabilities) =
                    problem.evaluate(&candidate)?;
                if candidate_value <= value - 1e-4 * t * decrement {
                    (theta, value) = (candidate, candidate_value);
                    (gradient, probabilities) = (candidate_gradient, candidate_probabilities);
                    moved = true;
                    break;
                }
                t /= 2.0;
            }
            if !moved {
                // No decrease is left within f64 rounding: as close as this gets.
                break;
            }
            converged = small(&gradient)?;
        }
        let d = problem.params - 1;
        Ok(Self {
            coef: theta.f_narrow(0, 0, d)?.f_tr()?.f_contiguous()?,
            intercept: theta.f_select(0, d)?.f_contiguous()?,
            classes,
            iterations,
            converged,
        })
    }

    /// The class scores, `[n, 1]` (class 1's logit against class 0's) or `[n, classes]`.
    pub fn decision_function(&self, features: &Tensor) -> Result<Tensor, TaskError> {
        let scores = features
            .f_to_kind(Kind::Double)?
            .f_matmul(&self.coef.f_tr()?)?;
        Ok(scores.f_add(&self.intercept)?)
    }

    /// The most likely class of each row of `features` (`[n, features]`).
    pub fn predict(&self, features: &Tensor) -> Result<Vec<usize>, TaskError> {
        let scores = self.decision_function(features)?;
        let predicted = if self.classes == 2 {
            scores.f_select(1, 0)?.f_gt(0.0)?.f_to_kind(Kind::Int64)?
        } else {
            scores.f_argmax(1, false)?
        };
        let ids: Vec<i64> = Vec::try_from(predicted)?;
        Ok(ids.into_iter().map(|id| id as usize).collect())
    }
}

const DOUBLE: (Kind, Device) = (Kind::Double, Device::Cpu);
const MAX_HALVINGS: usize = 60;

fn mismatch(what: &'static str, expected: String, found: String) -> TaskError {
    TaskError::Mismatch {
        what,
        expected,
        found,
    }
}

/// The data of one fit: features with a column of ones for the intercept, one-hot labels of
/// the free classes, and the shapes.
struct Problem {
    /// `[n, d + 1]`.
    x: Tensor,
    /// `[n, columns]`: the labels of the classes with parameters (class 1 alone when binary).
    y: Tensor,
    /// `[d + 1, 1]`: 1 where the penalty applies (weights), 0 for the intercept.
    penalised: Tensor,
    c: f64,
    params: i64,
    /// Parameter columns: 1 for two classes, else the class count.
    columns: i64,
    binary: bool,
}

impl Problem {
    fn new(
        features: &Tensor,
        labels: &[usize],
        classes: usize,
        l2: f64,
    ) -> Result<Self, TaskError> {
        let n = labels.len() as i64;
        let features = features.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?;
        let x = Tensor::f_cat(&[features, Tensor::f_ones([n, 1], DOUBLE)?], 1)?;
        let params = x.size()[1];
        let binary = classes == 2;
        let ids: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        let one_hot = Tensor::from_slice(&ids)
            .f_one_hot(classes as i64)?
            .f_to_kind(Kind::Double)?;
        let y = if binary {
            one_hot.f_narrow(1, 1, 1)?
        } else {
            one_hot
        };
        let penalised = Tensor::f_cat(
            &[
                Tensor::f_ones([params - 1, 1], DOUBLE)?,
                Tensor::f_zeros([1, 1], DOUBLE)?,
            ],
            0,
        )?;
        Ok(Self {
            x,
            y,
            penalised,
            c: 1.0 / l2,
            params,
            columns: if binary { 1 } else { classes as i64 },
            binary,
        })
    }

    /// The objective, its gradient (`[d + 1, columns]`) and the free classes' probabilities
    /// (`[n, columns]`) at `theta`.
    fn evaluate(&self, theta: &Tensor) -> Result<(f64, Tensor, Tensor), TaskError> {
        let scores = self.x.f_matmul(theta)?;
        let logits = if self.binary {
            Tensor::f_cat(&[scores.f_zeros_like()?, scores], 1)?
        } else {
            scores
        };
        let log_probabilities = logits.f_log_softmax(1, Kind::Double)?;
        let free = if self.binary {
            log_probabilities.f_narrow(1, 1, 1)?
        } else {
            log_probabilities.shallow_clone()
        };
        // Binary: log p(class 0) is the other column; the one-hot of class 0 is 1 - y.
        let log_loss = if self.binary {
            let p0 = log_probabilities.f_narrow(1, 0, 1)?;
            free.f_mul(&self.y)?
                .f_add(&p0.f_mul(&self.y.f_neg()?.f_add_scalar(1.0)?)?)?
        } else {
            free.f_mul(&self.y)?
        };
        let weights = theta.f_mul(&self.penalised)?;
        let value = -self.c * log_loss.f_sum(Kind::Double)?.f_double_value(&[])?
            + 0.5
                * weights
                    .f_square()?
                    .f_sum(Kind::Double)?
                    .f_double_value(&[])?;
        let probabilities = free.f_exp()?;
        let gradient = self
            .x
            .f_tr()?
            .f_matmul(&probabilities.f_sub(&self.y)?)?
            .f_mul_scalar(self.c)?
            .f_add(&weights)?;
        Ok((value, gradient, probabilities))
    }

    /// The Newton step `H^-1 g` in `gradient`'s shape. Block `(m, l)` of the Hessian is
    /// `C * X^T diag(p_m (δ_ml - p_l)) X`, plus the identity on the weights when `m == l`.
    /// With a vector per class, shifting every intercept equally changes nothing, a flat
    /// direction; `u u^T` along it makes the system definite without moving the solution
    /// (the gradient has no component along `u`, so neither has the step).
    fn newton_step(&self, gradient: &Tensor, probabilities: &Tensor) -> Result<Tensor, TaskError> {
        let (p, k) = (self.params, self.columns);
        let identity = Tensor::f_diag(&self.penalised.f_flatten(0, -1)?, 0)?;
        let mut blocks: Vec<Vec<Option<Tensor>>> =
            (0..k).map(|_| (0..k).map(|_| None).collect()).collect();
        for m in 0..k {
            let p_m = probabilities.f_select(1, m)?;
            for l in m..k {
                let p_l = probabilities.f_select(1, l)?;
                let diagonal = if m == l {
                    p_m.f_ones_like()?
                } else {
                    p_m.f_zeros_like()?
                };
                let w = p_m.f_mul(&diagonal.f_sub(&p_l)?)?.f_mul_scalar(self.c)?;
                let mut block = self
                    .x
                    .f_tr()?
                    .f_matmul(&self.x.f_mul(&w.f_unsqueeze(1)?)?)?;
                if m == l {
                    block = block.f_add(&identity)?;
                }
                blocks[l as usize][m as usize] = Some(block.f_tr()?);
                blocks[m as usize][l as usize] = Some(block);
            }
        }
        let rows = blocks
            .into_iter()
            .map(|row| {
                let row: Vec<Tensor> = row.into_iter().flatten().collect();
                Tensor::f_cat(&row, 1)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut hessian = Tensor::f_cat(&rows, 0)?;
        if !self.binary {
            let mut u = vec![0.0f64; (p * k) as usize];
            for m in 0..k {
                u[(m * p + p - 1) as usize] = 1.0 / (k as f64).sqrt();
            }
            let u = Tensor::from_slice(&u).f_unsqueeze(1)?;
            hessian = hessian.f_add(&u.f_matmul(&u.f_tr()?)?)?;
        }
        // Parameters class-major: entry `m * p + a` is theta[a, m].
        let g = gradient.f_tr()?.f_contiguous()?.f_view([p * k, 1])?;
        let step = Tensor::f_linalg_solve(&hessian, &g, true)?;
        Ok(step.f_view([k, p])?.f_tr()?.f_contiguous()?)
    }
}
