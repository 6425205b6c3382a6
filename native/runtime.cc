// Everything besides operators: data in and out, autograd, grad/autocast modes, threads, RNG.
#include "runtime.h"

#include <ATen/autocast_mode.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <cstring>
#include <thread>

#include "handle.h"

namespace sa {
namespace {

using torch::autograd::variable_list;

Napi::Array wrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) arr.Set(i, wrapTensor(env, ts[i]));
  return arr;
}

std::vector<at::Tensor> unwrapList(const Napi::Value& v, const char* what, bool allowUndefined = false) {
  auto arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    auto e = arr.Get(i);
    if (allowUndefined && (e.IsUndefined() || e.IsNull())) out.emplace_back();
    else out.push_back(unwrapTensor(e, what));
  }
  return out;
}

std::vector<int64_t> toShape(const Napi::Value& v) {
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> shape(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) shape[i] = arr.Get(i).As<Napi::Number>().Int64Value();
  return shape;
}

// from_bytes(view, shape, scalarType) -> tensor: one copy out of JS memory.
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto view = info[0].As<Napi::TypedArray>();
  auto shape = toShape(info[1]);
  auto st = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  return guarded(env, "fromBytes", [&] {
    auto t = torch::empty(shape, torch::TensorOptions().dtype(st));
    size_t bytes = t.nbytes();
    if (view.ByteLength() != bytes)
      throw std::runtime_error("expected " + std::to_string(bytes) + " bytes for " + describe(t) + ", got " +
                               std::to_string(view.ByteLength()));
    auto* src = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    if (bytes) std::memcpy(t.data_ptr(), src, bytes);
    return wrapTensor(env, t);
  });
}

// to_bytes(t) -> ArrayBuffer holding the contiguous CPU bytes.
Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto t = unwrapTensor(info[0], "toBytes");
  return guarded(env, "toBytes " + describe(t), [&] {
    auto c = t.detach().to(at::kCPU).contiguous();
    auto buf = Napi::ArrayBuffer::New(env, c.nbytes());
    if (c.nbytes()) std::memcpy(buf.Data(), c.data_ptr(), c.nbytes());
    return buf;
  });
}

// meta(t) -> [scalarType, device, requiresGrad, ...shape]
Napi::Value Meta(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto& t = unwrapTensor(info[0], "meta");
  auto arr = Napi::Array::New(env, 3 + t.dim());
  arr.Set(0u, static_cast<double>(static_cast<int>(t.scalar_type())));
  arr.Set(1u, t.device().str());
  arr.Set(2u, t.requires_grad());
  for (int64_t i = 0; i < t.dim(); i++) arr.Set(static_cast<uint32_t>(3 + i), static_cast<double>(t.size(i)));
  return arr;
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  auto& t = unwrapTensor(info[0], "item");
  return guarded(info.Env(), "item " + describe(t), [&] { return Napi::Number::New(info.Env(), t.item().toDouble()); });
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  disposeHandle(info.Env(), info[0]);
  return info.Env().Undefined();
}

Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(liveTensors.load()));
}

Napi::Value ReportedBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(reportedBytes.load()));
}

// ---- autograd ----

Napi::Value Grad(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), unwrapTensor(info[0], "grad").grad());
}

Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  auto& t = unwrapTensor(info[0], "setGrad");
  return guarded(info.Env(), "setGrad " + describe(t), [&] {
    if (info[1].IsUndefined() || info[1].IsNull()) t.mutable_grad().reset();
    else t.mutable_grad() = unwrapTensor(info[1], "setGrad");
    return info.Env().Undefined();
  });
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  auto& t = unwrapTensor(info[0], "requiresGrad");
  return guarded(info.Env(), "requiresGrad " + describe(t), [&] {
    t.set_requires_grad(info[1].ToBoolean().Value());
    return info.Env().Undefined();
  });
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info[0], "isLeaf").is_leaf());
}

Napi::Value GradFnName(const Napi::CallbackInfo& info) {
  auto& t = unwrapTensor(info[0], "gradFn");
  if (!t.grad_fn()) return info.Env().Undefined();
  return Napi::String::New(info.Env(), t.grad_fn()->name());
}

Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  auto& t = unwrapTensor(info[0], "retainGrad");
  return guarded(info.Env(), "retainGrad", [&] {
    t.retain_grad();
    return info.Env().Undefined();
  });
}

// backward(outputs[], gradOutputs[]|undefined, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto outs = unwrapList(info[0], "backward");
  std::vector<at::Tensor> grads;
  if (info[1].IsArray()) grads = unwrapList(info[1], "backward", true);
  bool retain = info[2].ToBoolean().Value(), create = info[3].ToBoolean().Value();
  return guarded(env, "backward", [&] {
    torch::autograd::backward(outs, grads, retain, create);
    return env.Undefined();
  });
}

// grad(outputs[], inputs[], gradOutputs[]|undefined, retainGraph, createGraph, allowUnused) -> (tensor|undefined)[]
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto outs = unwrapList(info[0], "grad");
  auto ins = unwrapList(info[1], "grad");
  std::vector<at::Tensor> grads;
  if (info[2].IsArray()) grads = unwrapList(info[2], "grad", true);
  bool retain = info[3].ToBoolean().Value(), create = info[4].ToBoolean().Value();
  bool allowUnused = info[5].ToBoolean().Value();
  return guarded(env, "grad", [&] {
    auto res = torch::autograd::grad(outs, ins, grads, retain, create, allowUnused);
    return wrapList(env, res);
  });
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

// set_autocast(device 'cpu'|'cuda', enabled, scalarType) -> [prevEnabled, prevScalarType]
Napi::Value SetAutocast(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  std::string device = info[0].As<Napi::String>();
  bool enabled = info[1].ToBoolean().Value();
  auto st = static_cast<at::ScalarType>(info[2].As<Napi::Number>().Int32Value());
  auto prev = Napi::Array::New(env, 2);
  if (device == "cpu") {
    prev.Set(0u, at::autocast::is_cpu_enabled());
    prev.Set(1u, static_cast<double>(static_cast<int>(at::autocast::get_autocast_cpu_dtype())));
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(st);
  } else if (device == "cuda") {
    prev.Set(0u, at::autocast::is_enabled());
    prev.Set(1u, static_cast<double>(static_cast<int>(at::autocast::get_autocast_gpu_dtype())));
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(st);
  } else {
    throw Napi::Error::New(env, "autocast: unknown device type '" + device + "' (cpu or cuda)");
  }
  // Casts are cached within an autocast region; drop them when the outermost region ends.
  if (enabled) at::autocast::increment_nesting();
  else if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  return prev;
}

// OpenBLAS (Debian's openblas-pthread) keeps a pool of its own, one worker per core whatever libtorch's thread
// count is, and an idle worker spins on sched_yield between GEMMs: a 1-thread libtorch then still runs two
// BLAS threads, and the miniature's training step took 1.5-2.0 s instead of 0.8-0.9 s. Keep the two equal.
// Absent with another BLAS (MKL follows OpenMP already), so looked up, not linked.
using BlasThreadsSetter = void (*)(int);
using BlasThreadsGetter = int (*)();

BlasThreadsSetter blasSetThreads() {
  static auto fn = reinterpret_cast<BlasThreadsSetter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  return fn;
}

BlasThreadsGetter blasGetThreads() {
  static auto fn = reinterpret_cast<BlasThreadsGetter>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return fn;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  at::set_num_threads(n);
  if (auto set = blasSetThreads()) set(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

// -1 when the BLAS is not OpenBLAS.
Napi::Value GetBlasThreads(const Napi::CallbackInfo& info) {
  auto get = blasGetThreads();
  return Napi::Number::New(info.Env(), get ? get() : -1);
}

// ---- random generators ----

const napi_type_tag kGeneratorTag = {0x5a17a11a7e750002ULL, 0x6e6e6e6e00000002ULL};

Napi::Value NewGenerator(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  std::string device = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "cpu";
  return guarded(env, "generator", [&] {
    at::Generator gen;
    c10::Device dev(device);
    if (dev.is_cuda()) gen = at::detail::getCUDAHooks().getDefaultCUDAGenerator(dev.index()).clone();
    else gen = at::detail::createCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
    }
    auto ext = Napi::External<at::Generator>::New(env, new at::Generator(gen),
                                                  [](Napi::Env, at::Generator* g) { delete g; });
    ext.TypeTag(&kGeneratorTag);
    return Napi::Value(ext);
  });
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  torch::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

// ---- gradient checkpointing: recompute a JS function in backward ----

struct JsFunction : torch::CustomClassHolder {
  Napi::FunctionReference fn;
  Napi::Env env;
  std::thread::id thread;
  JsFunction(Napi::Function f, Napi::Env e) : fn(Napi::Persistent(f)), env(e), thread(std::this_thread::get_id()) {}

  variable_list call(const variable_list& inputs) {
    if (std::this_thread::get_id() != thread)
      throw std::runtime_error("checkpoint: recomputation must run on the JavaScript thread that ran the forward");
    Napi::HandleScope scope(env);
    auto handles = wrapList(env, inputs);
    auto result = fn.Call({handles});
    auto outs = unwrapList(result, "checkpoint result");
    // The handles were only for the call; the graph keeps what it needs.
    for (uint32_t i = 0; i < handles.Length(); i++)
      disposeHandle(env, handles.Get(i));
    auto arr = result.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++)
      disposeHandle(env, arr.Get(i));
    return outs;
  }
};

// The backward node of a checkpointed segment: it holds the inputs, not the activations.
struct CheckpointBackward : public torch::autograd::Node {
  c10::intrusive_ptr<JsFunction> fn;
  std::vector<torch::autograd::SavedVariable> saved;

  variable_list apply(variable_list&& gradOutputs) override {
    variable_list inputs;
    for (auto& s : saved) {
      auto x = s.unpack();
      inputs.push_back(x.detach().requires_grad_(x.requires_grad()));
    }
    variable_list outs, grads;
    {
      at::AutoGradMode enable(true);
      auto recomputed = fn->call(inputs);
      for (size_t i = 0; i < recomputed.size() && i < gradOutputs.size(); i++)
        if (recomputed[i].requires_grad() && gradOutputs[i].defined()) {
          outs.push_back(recomputed[i]);
          grads.push_back(gradOutputs[i]);
        }
    }
    if (!outs.empty()) torch::autograd::backward(outs, grads);
    variable_list result;
    for (auto& x : inputs) result.push_back(x.grad());
    return result;
  }

  void release_variables() override { saved.clear(); }
  std::string name() const override { return "CheckpointBackward"; }
};

// checkpoint(fn, inputs[]) -> outputs[]: fn runs without a graph now and again in backward.
Napi::Value CheckpointCall(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto inputs = unwrapList(info[1], "checkpoint");
  auto fn = c10::make_intrusive<JsFunction>(info[0].As<Napi::Function>(), env);
  return guarded(env, "checkpoint", [&] {
    bool needsGrad = c10::GradMode::is_enabled() &&
                     std::any_of(inputs.begin(), inputs.end(), [](const at::Tensor& x) { return x.requires_grad(); });
    variable_list outs;
    {
      at::NoGradGuard noGrad;
      outs = fn->call(inputs);
    }
    if (needsGrad) {
      auto node = std::shared_ptr<CheckpointBackward>(new CheckpointBackward(), torch::autograd::deleteNode);
      node->fn = fn;
      node->set_next_edges(torch::autograd::collect_next_edges(inputs));
      for (auto& x : inputs) node->saved.emplace_back(x, false);
      for (auto& o : outs) {
        o = o.detach();  // a fresh TensorImpl, in case fn returned one of its inputs
        if (at::isFloatingType(o.scalar_type())) torch::autograd::create_gradient_edge(o, node);
      }
    }
    return wrapList(env, outs);
  });
}

// ---- build facts ----

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("torchVersion", TORCH_VERSION);
  o.Set("cudaAvailable", at::globalContext().hasCUDA());
  o.Set("cudaDeviceCount", at::globalContext().hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0);
  // Which shared library provides sgemm_ tells OpenBLAS from the reference BLAS.
  Dl_info dl{};
  void* sym = dlsym(RTLD_DEFAULT, "sgemm_");
  o.Set("blasLibrary", sym && dladdr(sym, &dl) && dl.dli_fname ? dl.dli_fname : "");
  o.Set("parallelInfo", at::get_parallel_info());
  return o;
}

}  // namespace

at::Generator unwrapGenerator(const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::Object>().CheckTypeTag(&kGeneratorTag))
    throw Napi::TypeError::New(v.Env(), "expected a generator");
  return *v.As<Napi::External<at::Generator>>().Data();
}

void registerRuntime(Napi::Env env, Napi::Object exports) {
  auto fn = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) {
    exports.Set(name, Napi::Function::New(env, f, name));
  };
  fn("fromBytes", FromBytes);
  fn("toBytes", ToBytes);
  fn("meta", Meta);
  fn("item", Item);
  fn("dispose", Dispose);
  fn("liveTensors", LiveTensors);
  fn("reportedBytes", ReportedBytes);
  fn("grad", Grad);
  fn("setGrad", SetGrad);
  fn("setRequiresGrad", SetRequiresGrad);
  fn("isLeaf", IsLeaf);
  fn("gradFnName", GradFnName);
  fn("retainGrad", RetainGrad);
  fn("backward", Backward);
  fn("autogradGrad", AutogradGrad);
  fn("setGradEnabled", SetGradEnabled);
  fn("setAutocast", SetAutocast);
  fn("setNumThreads", SetNumThreads);
  fn("getNumThreads", GetNumThreads);
  fn("getBlasThreads", GetBlasThreads);
  fn("newGenerator", NewGenerator);
  fn("manualSeed", ManualSeed);
  fn("checkpoint", CheckpointCall);
  fn("buildInfo", BuildInfo);
}

}  // namespace sa
