// A thin C interface over libtorch's multi-tensor optimizer kernels, which tch 0.24 does not
// generate bindings for (its generator skips `_foreach*` and `_fused_adam*`): AdamW as
// `torch.optim.AdamW(foreach=True)` and `(fused=True)` compute it, and global-norm clipping as
// `torch.nn.utils.clip_grad_norm_(foreach=True)`, all without reading a value back to the
// host. Tensors arrive as libtch passes them (`at::Tensor*`); copies of an `at::Tensor`
// share storage, so in-place updates reach the caller's tensors. Every function catches C++
// exceptions and reports failure through its return value plus `distil_optim_last_error`,
// since unwinding across the FFI boundary is undefined behaviour.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace {

thread_local std::string last_error;

template <typename F>
int guarded(F&& body) {
  try {
    body();
    return 0;
  } catch (const c10::Error& e) {
    last_error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    last_error = e.what();
  } catch (...) {
    last_error = "unknown C++ exception";
  }
  return -1;
}

std::vector<at::Tensor> tensors(at::Tensor* const* items, size_t n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(*items[i]);
  }
  return out;
}

}  // namespace

extern "C" {

const char* distil_optim_last_error() { return last_error.c_str(); }

// One AdamW update of n parameters at optimizer step `step` (1 for the first update), in the
// order of torch.optim.adamw._multi_tensor_adamw: decoupled decay, both moments, then the
// bias-corrected step. Every list holds n tensors on one device.
int distil_optim_foreach_adamw(at::Tensor* const* params, at::Tensor* const* grads,
                               at::Tensor* const* exp_avgs, at::Tensor* const* exp_avg_sqs,
                               size_t n, double lr, double beta1, double beta2,
                               double weight_decay, double eps, int64_t step) {
  return guarded([&] {
    auto p = tensors(params, n);
    auto g = tensors(grads, n);
    auto m = tensors(exp_avgs, n);
    auto v = tensors(exp_avg_sqs, n);
    if (weight_decay != 0.0) {
      at::_foreach_mul_(p, 1.0 - lr * weight_decay);
    }
    at::_foreach_lerp_(m, g, 1.0 - beta1);
    at::_foreach_mul_(v, beta2);
    at::_foreach_addcmul_(v, g, g, 1.0 - beta2);
    const double t = static_cast<double>(step);
    const double bias_correction1 = 1.0 - std::pow(beta1, t);
    const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2, t));
    auto denom = at::_foreach_sqrt(v);
    at::_foreach_div_(denom, bias_correction2_sqrt);
    at::_foreach_add_(denom, eps);
    at::_foreach_addcdiv_(p, m, denom, -lr / bias_correction1);
  });
}

// The same update through `_fused_adamw_` (one kernel over all tensors). `step` is a 0-dim
// float32 tensor on the parameters' device holding the step number; the kernel only reads
// it, so one tensor serves every parameter.
int distil_optim_fused_adamw(at::Tensor* const* params, at::Tensor* const* grads,
                             at::Tensor* const* exp_avgs, at::Tensor* const* exp_avg_sqs,
                             size_t n, double lr, double beta1, double beta2,
                             double weight_decay, double eps, const at::Tensor* step) {
  return guarded([&] {
    auto p = tensors(params, n);
    auto g = tensors(grads, n);
    auto m = tensors(exp_avgs, n);
    auto v = tensors(exp_avg_sqs, n);
    std::vector<at::Tensor> steps(n, *step);
    at::_fused_adamw_(p, g, m, v, /*max_exp_avg_sqs=*/{}, steps, lr, beta1, beta2, weight_decay,
                      eps, /*amsgrad=*/false, /*maximize=*/false, std::nullopt, std::nullopt);
  });
}

// Scales n gradients (n >= 1, one device) in place by min(1, max_norm / (norm + 1e-6)),
// norm being their global L2 norm computed in float32, and stores that norm (0-dim, on the
// gradients' device) in *norm_out as a new tensor that the caller owns.
int distil_optim_clip_grad_norm(at::Tensor* const* grads, size_t n, double max_norm,
                                at::Tensor** norm_out) {
  return guarded([&] {
    auto g = tensors(grads, n);
    auto norms = at::_foreach_norm(g, 2, at::kFloat);
    auto total = at::linalg_vector_norm(at::stack(norms), 2);
    auto coef = at::clamp_max(max_norm / (total + 1e-6), 1.0);
    at::_foreach_mul_(g, coef);
    *norm_out = new at::Tensor(std::move(total));
  });
}

}  // extern "C"
