#include "handle.h"

#include <sstream>

namespace sa {

std::atomic<int64_t> liveTensors{0};
std::atomic<int64_t> reportedBytes{0};

namespace {
// Tags the External so a foreign External is never mistaken for a tensor.
const napi_type_tag kTensorTag = {0x5a17a11a7e750001ULL, 0x7e750000c0ffee01ULL};

// Small tensors are not reported: the call costs more than the information is worth to the GC.
constexpr int64_t kReportThreshold = 1 << 16;

// Only the first handle of a storage reports it: a view (narrow, reshape, select, ...) shares its base's
// storage, and reporting the whole storage again for each view made V8 believe in gigabytes of external
// memory and collect garbage on every few calls (measured: narrow of a 25 MB tensor 85 us, view 140 us; a
// bucketed gradient all-reduce of 17 M floats 1.45 s instead of 0.06 s). A view that outlives its base is
// then not reported: the report is a GC hint, and under-reporting only delays a collection.
int64_t storageBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  const auto& storage = t.storage();
  if (storage.use_count() > 1) return 0;
  auto n = static_cast<int64_t>(storage.nbytes());
  return n >= kReportThreshold ? n : 0;
}
void finalizeTensor(napi_env env, void* data, void* /*hint*/) {
  auto* box = static_cast<TensorBox*>(data);
  disposeTensor(Napi::Env(env), box);
  delete box;
}
}  // namespace

void disposeTensor(Napi::Env env, TensorBox* box) {
  if (!box->t.defined()) return;
  box->t.reset();
  if (box->reportedBytes) Napi::MemoryManagement::AdjustExternalMemory(env, -box->reportedBytes);
  reportedBytes -= box->reportedBytes;
  box->reportedBytes = 0;
  liveTensors--;
}

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Undefined();
  auto* box = new TensorBox{std::move(t), 0};
  box->reportedBytes = storageBytes(box->t);
  if (box->reportedBytes) Napi::MemoryManagement::AdjustExternalMemory(env, box->reportedBytes);
  reportedBytes += box->reportedBytes;
  liveTensors++;
  // The plain N-API call: Napi::External::New with a finalizer allocates a closure record per handle.
  napi_value ext;
  napi_status status = napi_create_external(env, box, finalizeTensor, nullptr, &ext);
  if (status != napi_ok) {
    disposeTensor(env, box);
    delete box;
    NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  }
  // From here the External owns the box (its finalizer frees it).
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, ext, &kTensorTag), Napi::Value());
  return Napi::Value(env, ext);
}

bool isTensorHandle(const Napi::Value& v) {
  return v.IsExternal() && v.As<Napi::Object>().CheckTypeTag(&kTensorTag);
}

at::Tensor& unwrapTensor(const Napi::Value& v, const char* what) {
  if (!isTensorHandle(v)) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a tensor");
  auto* box = v.As<Napi::External<TensorBox>>().Data();
  if (!box->t.defined()) throw Napi::Error::New(v.Env(), std::string(what) + ": tensor was disposed");
  return box->t;
}

const char* dtypeName(at::ScalarType s) {
  switch (s) {
    case at::kByte: return "u8";
    case at::kChar: return "i8";
    case at::kShort: return "i16";
    case at::kInt: return "i32";
    case at::kLong: return "i64";
    case at::kHalf: return "f16";
    case at::kFloat: return "f32";
    case at::kDouble: return "f64";
    case at::kBool: return "bool";
    case at::kBFloat16: return "bf16";
    default: return "other";
  }
}

std::string describe(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream s;
  s << dtypeName(t.scalar_type()) << "[";
  for (int64_t i = 0; i < t.dim(); i++) s << (i ? "," : "") << t.size(i);
  s << "]";
  if (!t.device().is_cpu()) s << " " << t.device().str();
  return s.str();
}

}  // namespace sa
