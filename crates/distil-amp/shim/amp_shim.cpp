// A thin C interface over libtorch runtime controls that tch 0.24 does not expose, for the
// Rust crate distil-amp: autocast state per device type (at::autocast, what torch.autocast's
// __enter__/__exit__ call), inference mode (c10::InferenceMode, what torch.inference_mode
// holds), TF32 for CUDA fp32 matmuls and cuDNN, and the CUDA caching allocator's peak
// statistics. Every function catches C++ exceptions and reports failure
// through its return value plus `distil_amp_last_error`, since unwinding across the FFI
// boundary is undefined behaviour.
#include <cstdint>
#include <stdexcept>
#include <string>

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#ifdef DISTIL_AMP_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

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

// The Rust side's codes: 0 CPU, 1 CUDA.
at::DeviceType device_type(int code) {
  switch (code) {
    case 0:
      return at::kCPU;
    case 1:
      return at::kCUDA;
  }
  throw std::invalid_argument("unknown autocast device code " + std::to_string(code));
}

// The Rust side's codes: 0 bfloat16, 1 float16.
at::ScalarType dtype(int code) {
  switch (code) {
    case 0:
      return at::kBFloat16;
    case 1:
      return at::kHalf;
  }
  throw std::invalid_argument("unknown autocast dtype code " + std::to_string(code));
}

int dtype_code(at::ScalarType type) {
  switch (type) {
    case at::kBFloat16:
      return 0;
    case at::kHalf:
      return 1;
    default:
      return -1;
  }
}

#ifdef DISTIL_AMP_CUDA
c10::DeviceIndex cuda_device(int index) {
  const auto count = c10::cuda::device_count();
  if (index < 0 || index >= count) {
    throw std::out_of_range("CUDA device " + std::to_string(index) + " does not exist (" +
                            std::to_string(count) + " visible)");
  }
  return static_cast<c10::DeviceIndex>(index);
}
#endif

}  // namespace

extern "C" {

const char* distil_amp_last_error() { return last_error.c_str(); }

// The autocast state of `device` on this thread: enabled flag, dtype code (-1 for a dtype
// the Rust side does not name) and whether the cast cache is on.
int distil_amp_autocast_state(int device, int* enabled, int* dtype_out, int* cache_enabled) {
  return guarded([&] {
    const auto type = device_type(device);
    *enabled = at::autocast::is_autocast_enabled(type) ? 1 : 0;
    *dtype_out = dtype_code(at::autocast::get_autocast_dtype(type));
    *cache_enabled = at::autocast::is_autocast_cache_enabled() ? 1 : 0;
  });
}

// torch.autocast.__enter__: enable autocast for `device` at `dtype`, one nesting level deeper,
// with the cast cache on.
int distil_amp_autocast_enter(int device, int dtype_in) {
  return guarded([&] {
    const auto type = device_type(device);
    const auto fast = dtype(dtype_in);
    at::autocast::set_autocast_enabled(type, true);
    at::autocast::set_autocast_dtype(type, fast);
    at::autocast::increment_nesting();
    at::autocast::set_autocast_cache_enabled(true);
  });
}

// torch.autocast.__exit__: one nesting level up (clearing the cast cache when leaving the
// outermost region), then the state saved before entering.
int distil_amp_autocast_exit(int device, int prev_enabled, int prev_dtype, int prev_cache) {
  return guarded([&] {
    const auto type = device_type(device);
    if (at::autocast::decrement_nesting() == 0) {
      at::autocast::clear_cache();
    }
    at::autocast::set_autocast_enabled(type, prev_enabled != 0);
    if (prev_dtype >= 0) {
      at::autocast::set_autocast_dtype(type, dtype(prev_dtype));
    }
    at::autocast::set_autocast_cache_enabled(prev_cache != 0);
  });
}

// torch.inference_mode().__enter__: a c10::InferenceMode on the heap, since its lifetime is
// the Rust guard's rather than a C++ scope. It saves this thread's dispatch and grad-mode
// state and restores it when deleted, so it must be left on the same thread, innermost first.
int distil_amp_inference_mode_enter(void** guard) {
  return guarded([&] { *guard = new c10::InferenceMode(true); });
}

// torch.inference_mode().__exit__: the state saved by the matching enter back.
int distil_amp_inference_mode_exit(void* guard) {
  return guarded([&] { delete static_cast<c10::InferenceMode*>(guard); });
}

// What torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32 set.
int distil_amp_set_tf32(int enabled) {
  return guarded([&] {
    at::globalContext().setAllowTF32CuBLAS(enabled != 0);
    at::globalContext().setAllowTF32CuDNN(enabled != 0);
  });
}

int distil_amp_tf32(int* cublas, int* cudnn) {
  return guarded([&] {
    *cublas = at::globalContext().allowTF32CuBLAS() ? 1 : 0;
    *cudnn = at::globalContext().allowTF32CuDNN() ? 1 : 0;
  });
}

// Peak bytes allocated to tensors and reserved by the caching allocator on CUDA device
// `index` since the start or the last reset (torch.cuda.max_memory_allocated / _reserved).
int distil_amp_cuda_peak_memory(int index, int64_t* allocated, int64_t* reserved) {
  return guarded([&] {
#ifdef DISTIL_AMP_CUDA
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(cuda_device(index));
    const auto all = static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    *allocated = stats.allocated_bytes[all].peak;
    *reserved = stats.reserved_bytes[all].peak;
#else
    (void)index;
    (void)allocated;
    (void)reserved;
    throw std::runtime_error("this build of distil-amp has no CUDA (libtorch without c10_cuda)");
#endif
  });
}

// torch.cuda.reset_peak_memory_stats.
int distil_amp_cuda_reset_peak_memory(int index) {
  return guarded([&] {
#ifdef DISTIL_AMP_CUDA
    c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_device(index));
#else
    (void)index;
    throw std::runtime_error("this build of distil-amp has no CUDA (libtorch without c10_cuda)");
#endif
  });
}

// torch.cuda.empty_cache: returns the cached free blocks to the driver, so that the next
// reserved peak starts from what tensors hold.
int distil_amp_cuda_empty_cache() {
  return guarded([&] {
#ifdef DISTIL_AMP_CUDA
    if (c10::cuda::device_count() == 0) {
      throw std::runtime_error("no CUDA device is visible");
    }
    c10::cuda::CUDACachingAllocator::emptyCache();
#else
    throw std::runtime_error("this build of distil-amp has no CUDA (libtorch without c10_cuda)");
#endif
  });
}

}  // extern "C"
