// Data-parallel collectives on libtorch's c10d: a TCPStore (rank 0 hosts it) for rendezvous, then
// ProcessGroupGloo (CPU tensors) or ProcessGroupNCCL (CUDA tensors, only when built against a CUDA
// libtorch with NCCL headers). One process group per process; every call blocks until done and
// every wait is bounded by the group's timeout, so a dead or missing peer is a JS error, not a hang.
#include <napi.h>
#include <torch/torch.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>

#include "handle.h"

namespace sa {
namespace {

// The collectives we use, over either backend class (ProcessGroup in libtorch 1.x, Backend in 2.x:
// same method signatures, different bases, hence the template).
struct Group {
  virtual ~Group() = default;
  virtual void allReduce(std::vector<at::Tensor>& ts, c10d::ReduceOp op) = 0;
  virtual void broadcast(std::vector<at::Tensor>& ts, int64_t src) = 0;
  virtual void barrier() = 0;
};

template <typename PG>
struct GroupOf : Group {
  c10::intrusive_ptr<PG> pg;
  explicit GroupOf(c10::intrusive_ptr<PG> p) : pg(std::move(p)) {}
  void allReduce(std::vector<at::Tensor>& ts, c10d::ReduceOp op) override {
    c10d::AllreduceOptions o;
    o.reduceOp = op;
    pg->allreduce(ts, o)->wait();
  }
  void broadcast(std::vector<at::Tensor>& ts, int64_t src) override {
    c10d::BroadcastOptions o;
    o.rootRank = src;
    pg->broadcast(ts, o)->wait();
  }
  void barrier() override { pg->barrier(c10d::BarrierOptions())->wait(); }
};

struct State {
  std::string backend;
  int rank = -1;
  int worldSize = 0;
  c10::intrusive_ptr<c10d::Store> store;
  std::unique_ptr<Group> group;
};

std::mutex mu;
// Heap-allocated and never freed at exit: destroying a live group from a static destructor would
// join gloo's threads after parts of the runtime are gone.
State* state = nullptr;

bool compiledGloo() {
#ifdef USE_C10D_GLOO
  return true;
#else
  return false;
#endif
}

bool compiledNccl() {
#ifdef USE_C10D_NCCL
  return true;
#else
  return false;
#endif
}

State& current(Napi::Env env, const char* what) {
  if (!state) throw Napi::Error::New(env, std::string(what) + ": no process group; call initProcessGroup() first");
  return *state;
}

#ifdef USE_C10D_GLOO
// As torch.distributed: GLOO_SOCKET_IFNAME (comma-separated) picks interfaces, else the hostname's address.
std::vector<std::shared_ptr<::gloo::transport::Device>> glooDevices() {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  if (const char* ifs = std::getenv("GLOO_SOCKET_IFNAME"); ifs && *ifs) {
    std::stringstream ss(ifs);
    for (std::string name; std::getline(ss, name, ',');)
      if (!name.empty()) devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  }
  if (devices.empty()) devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return devices;
}
#endif

// Runs f; an exception gets `what` in front, so "Socket Timeout" says which step timed out.
template <typename F>
auto withContext(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw std::runtime_error(what + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": " + e.what());
  }
}

// distInit(backend, rank, worldSize, masterAddr, masterPort, timeoutMs)
Napi::Value DistInit(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto backend = info[0].As<Napi::String>().Utf8Value();
  int rank = info[1].As<Napi::Number>().Int32Value();
  int worldSize = info[2].As<Napi::Number>().Int32Value();
  auto addr = info[3].As<Napi::String>().Utf8Value();
  int port = info[4].As<Napi::Number>().Int32Value();
  auto timeout = std::chrono::milliseconds(info[5].As<Napi::Number>().Int64Value());
  std::lock_guard<std::mutex> lock(mu);
  if (state) {
    throw Napi::Error::New(env, "initProcessGroup: already initialized (rank " + std::to_string(state->rank) + " of " +
                                    std::to_string(state->worldSize) + "); call destroyProcessGroup() first");
  }
  if (worldSize < 1) throw Napi::RangeError::New(env, "initProcessGroup: worldSize must be >= 1, got " + std::to_string(worldSize));
  if (rank < 0 || rank >= worldSize) {
    throw Napi::RangeError::New(env, "initProcessGroup: rank must be in [0, " + std::to_string(worldSize - 1) + "], got " +
                                         std::to_string(rank));
  }
  if (port < 1 || port > 65535) throw Napi::RangeError::New(env, "initProcessGroup: masterPort must be in [1, 65535], got " + std::to_string(port));
  if (backend == "gloo" && !compiledGloo()) {
    throw Napi::Error::New(env, "initProcessGroup: the addon was built without gloo (no gloo headers); install libgloo-dev and rebuild with 'node scripts/build-native.mjs'");
  }
  if (backend == "nccl" && !compiledNccl()) {
    throw Napi::Error::New(env, "initProcessGroup: the addon was built without NCCL (needs a CUDA libtorch and nccl.h); use backend 'gloo'");
  }
  if (backend != "gloo" && backend != "nccl") {
    throw Napi::Error::New(env, "initProcessGroup: backend must be 'gloo' or 'nccl', got '" + backend + "'");
  }
  std::string where = "initProcessGroup(" + backend + ", rank " + std::to_string(rank) + " of " +
                      std::to_string(worldSize) + ", " + addr + ":" + std::to_string(port) + ")";
  return guarded(env, where, [&] {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(port);
    so.isServer = rank == 0;
    so.numWorkers = static_cast<size_t>(worldSize);
    so.waitWorkers = true;  // this wait and the group's rendezvous below are both bounded by the timeout
    so.timeout = timeout;
    std::string ms = std::to_string(timeout.count()) + " ms";
    auto tcp = withContext(rank == 0 ? "hosting the store (timeout " + ms + ")" : "connecting to rank 0's store (timeout " + ms + ")",
                           [&] { return c10::make_intrusive<c10d::TCPStore>(addr, so); });
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::PrefixStore>("default_pg", tcp);
    auto s = std::make_unique<State>();
    s->backend = backend;
    s->rank = rank;
    s->worldSize = worldSize;
    s->store = store;
#ifdef USE_C10D_GLOO
    if (backend == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      opts->devices = glooDevices();
      opts->threads = 2;
      s->group = withContext("waiting for all " + std::to_string(worldSize) + " ranks to join (timeout " + ms + ")", [&] {
        return std::make_unique<GroupOf<c10d::ProcessGroupGloo>>(
            c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, worldSize, opts));
      });
    }
#endif
#ifdef USE_C10D_NCCL
    if (backend == "nccl") {
      // Blocking wait: a collective past the timeout throws in wait() (else NCCL may wait forever);
      // read when the group is created, under the 1.x and the 2.x names. A user's setting wins.
      setenv("NCCL_BLOCKING_WAIT", "1", 0);
      setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      s->group = withContext("creating the NCCL group", [&] {
        return std::make_unique<GroupOf<c10d::ProcessGroupNCCL>>(
            c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, worldSize, opts));
      });
    }
#endif
    state = s.release();
    return env.Undefined();
  });
}

// Runs an in-place collective on t. detach() shares t's storage, so a parameter or gradient is updated
// in place; backends need contiguous memory, so a strided t goes through a contiguous copy.
template <typename F>
void inPlace(const at::Tensor& t, F&& collective) {
  auto d = t.detach();
  std::vector<at::Tensor> ts{d.is_contiguous() ? d : d.contiguous()};
  collective(ts);
  if (!ts[0].is_same(d)) d.copy_(ts[0]);
}

c10d::ReduceOp reduceOp(Napi::Env env, const std::string& op) {
  if (op == "sum") return c10d::ReduceOp::SUM;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  throw Napi::Error::New(env, "allReduce: op must be sum|max|min|product, got '" + op + "'");
}

// distAllReduce(t, op): in place; 'avg' is done by the caller (gloo has no AVG in libtorch 1.x).
Napi::Value DistAllReduce(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto& t = unwrapTensor(info[0], "allReduce");
  auto op = reduceOp(env, info[1].As<Napi::String>().Utf8Value());
  auto& s = current(env, "allReduce");
  return guarded(env, "allReduce " + describe(t) + " on rank " + std::to_string(s.rank), [&] {
    inPlace(t, [&](std::vector<at::Tensor>& ts) { s.group->allReduce(ts, op); });
    return env.Undefined();
  });
}

// distBroadcast(t, src): in place.
Napi::Value DistBroadcast(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto& t = unwrapTensor(info[0], "broadcast");
  int64_t src = info[1].As<Napi::Number>().Int64Value();
  auto& s = current(env, "broadcast");
  if (src < 0 || src >= s.worldSize) {
    throw Napi::RangeError::New(env, "broadcast: src must be in [0, " + std::to_string(s.worldSize - 1) + "], got " + std::to_string(src));
  }
  return guarded(env, "broadcast " + describe(t) + " from rank " + std::to_string(src) + " on rank " + std::to_string(s.rank), [&] {
    inPlace(t, [&](std::vector<at::Tensor>& ts) { s.group->broadcast(ts, src); });
    return env.Undefined();
  });
}

Napi::Value DistBarrier(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto& s = current(env, "barrier");
  return guarded(env, "barrier on rank " + std::to_string(s.rank), [&] {
    s.group->barrier();
    return env.Undefined();
  });
}

// distInfo() -> { initialized, backend, rank, worldSize, gloo, nccl }
Napi::Value DistInfo(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("initialized", state != nullptr);
  o.Set("backend", state ? state->backend : "");
  o.Set("rank", state ? state->rank : -1);
  o.Set("worldSize", state ? state->worldSize : 0);
  o.Set("gloo", compiledGloo());
  o.Set("nccl", compiledNccl());
  return o;
}

Napi::Value DistDestroy(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(mu);
  return guarded(info.Env(), "destroyProcessGroup", [&] {
    delete state;
    state = nullptr;
    return info.Env().Undefined();
  });
}

}  // namespace

void registerDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("distInit", Napi::Function::New(env, DistInit, "distInit"));
  exports.Set("distAllReduce", Napi::Function::New(env, DistAllReduce, "distAllReduce"));
  exports.Set("distBroadcast", Napi::Function::New(env, DistBroadcast, "distBroadcast"));
  exports.Set("distBarrier", Napi::Function::New(env, DistBarrier, "distBarrier"));
  exports.Set("distInfo", Napi::Function::New(env, DistInfo, "distInfo"));
  exports.Set("distDestroy", Napi::Function::New(env, DistDestroy, "distDestroy"));
}

}  // namespace sa
