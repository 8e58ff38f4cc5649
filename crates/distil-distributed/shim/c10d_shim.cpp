// A thin C interface over PyTorch's c10d (TCPStore, PrefixStore, ProcessGroupGloo and, with
// USE_C10D_NCCL, ProcessGroupNCCL) for the Rust crate distil-distributed. Tensors arrive as
// libtch passes them: `at::Tensor*`. Every function catches C++ exceptions and reports
// failure through its return value plus `distil_c10d_last_error`, since unwinding across the
// FFI boundary is undefined behaviour.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace {

thread_local std::string last_error;

struct Group {
  c10::intrusive_ptr<c10d::Store> app_store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
};

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

// Waits for a collective and turns a failed or timed-out one into an exception.
void finish(const c10::intrusive_ptr<c10d::Work>& work, std::chrono::milliseconds timeout) {
  if (!work->wait(timeout)) {
    throw std::runtime_error("collective did not finish within the timeout");
  }
}

}  // namespace

extern "C" {

const char* distil_c10d_last_error() { return last_error.c_str(); }

// Joins the group: connects to (or, with is_server, hosts) the TCPStore at host:port and
// builds the backend under the store prefixes torch.distributed uses for the default group
// ("default_pg" / "0/" / "<device>/"). cuda_device < 0 selects Gloo, otherwise NCCL on that
// CUDA device.
void* distil_c10d_init(const char* host, uint16_t port, int rank, int world_size, int is_server,
                       int64_t timeout_ms, int cuda_device) {
  Group* group = nullptr;
  int rc = guarded([&] {
    const std::chrono::milliseconds timeout(timeout_ms);
    c10d::TCPStoreOptions options;
    options.port = port;
    options.isServer = is_server != 0;
    options.numWorkers = static_cast<std::size_t>(world_size);
    options.waitWorkers = false;
    options.timeout = timeout;
    options.multiTenant = true;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(std::string(host), options);
    auto default_pg = c10::make_intrusive<c10d::PrefixStore>("default_pg", tcp);
    auto group_store = c10::make_intrusive<c10d::PrefixStore>("0/", default_pg);
    c10::intrusive_ptr<c10d::Backend> backend;
    if (cuda_device < 0) {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create_default(timeout);
      backend = c10::make_intrusive<c10d::ProcessGroupGloo>(
          c10::make_intrusive<c10d::PrefixStore>("cpu/", group_store), rank, world_size,
          gloo_options);
    } else {
#ifdef USE_C10D_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("cuda/", group_store), rank, world_size,
          nccl_options);
#else
      throw std::runtime_error("this build has no NCCL support (cargo feature `nccl`)");
#endif
    }
    auto app_store = c10::make_intrusive<c10d::PrefixStore>("distil", tcp);
    group = new Group{app_store, backend, timeout};
  });
  return rc == 0 ? group : nullptr;
}

void distil_c10d_free(void* group) { delete static_cast<Group*>(group); }

// Sums one tensor (a flat bucket) across ranks, in place. c10d reads a vector of tensors as
// one per device, so the caller passes a single bucket.
int distil_c10d_all_reduce_sum(void* handle, at::Tensor* tensor) {
  return guarded([&] {
    auto* group = static_cast<Group*>(handle);
    std::vector<at::Tensor> tensors{*tensor};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    options.timeout = group->timeout;
    finish(group->backend->allreduce(tensors, options), group->timeout);
  });
}

int distil_c10d_broadcast(void* handle, at::Tensor* tensor, int root) {
  return guarded([&] {
    auto* group = static_cast<Group*>(handle);
    std::vector<at::Tensor> tensors{*tensor};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    options.timeout = group->timeout;
    finish(group->backend->broadcast(tensors, options), group->timeout);
  });
}

int distil_c10d_barrier(void* handle) {
  return guarded([&] {
    auto* group = static_cast<Group*>(handle);
    c10d::BarrierOptions options;
    options.timeout = group->timeout;
    finish(group->backend->barrier(options), group->timeout);
  });
}

int distil_c10d_store_set(void* handle, const char* key, const uint8_t* value, size_t len) {
  return guarded([&] {
    auto* group = static_cast<Group*>(handle);
    group->app_store->set(std::string(key), std::vector<uint8_t>(value, value + len));
  });
}

// Waits for `key` (up to the group's timeout) and copies its value into a buffer the caller
// frees with distil_c10d_free_bytes.
int distil_c10d_store_get(void* handle, const char* key, uint8_t** value, size_t* len) {
  return guarded([&] {
    auto* group = static_cast<Group*>(handle);
    std::vector<uint8_t> bytes = group->app_store->get(std::string(key));
    *len = bytes.size();
    *value = new uint8_t[bytes.size() > 0 ? bytes.size() : 1];
    std::memcpy(*value, bytes.data(), bytes.size());
  });
}

void distil_c10d_free_bytes(uint8_t* value) { delete[] value; }

}  // extern "C"
