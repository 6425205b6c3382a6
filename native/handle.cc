#include "handle.h"

#include <cmath>
#include <deque>
#include <sstream>
#include <vector>

namespace sa {

std::atomic<int64_t> liveTensors{0};
std::atomic<int64_t> reportedBytes{0};

namespace {
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

// A handle is generation * 2^24 + slot, an exact integer in a double (generations stay below 2^29). A freed
// slot's generation moves on, so an old handle to it is "disposed", never another tensor.
constexpr double kSlots = 16777216.0;  // 2^24
constexpr uint32_t kMaxGeneration = 1u << 29;

struct Slot {
  at::Tensor t;
  uint32_t generation = 0;  // 0: never handed out; handles start at 1
  int64_t reportedBytes = 0;  // what was told to V8 as external memory
};

// One table per JS thread (an addon instance per thread; tensors never cross threads). A deque: references
// to slots stay valid while the table grows (an op may wrap results while holding an unwrapped argument).
struct Table {
  std::deque<Slot> slots;
  std::vector<uint32_t> free;
};
thread_local Table table;

// A handle's generation and slot index, if v has the shape of one (an integer in the handle range); else false.
bool handleParts(const Napi::Value& v, uint32_t* generation, uint32_t* index) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= kSlots) || d >= kSlots * kMaxGeneration || d != std::floor(d)) return false;
  *generation = static_cast<uint32_t>(d / kSlots);
  *index = static_cast<uint32_t>(d - *generation * kSlots);
  return *index < table.slots.size();
}

// The slot a handle names while its generation is current, else nullptr; `index` receives its index.
Slot* slotOf(const Napi::Value& v, uint32_t* index = nullptr) {
  uint32_t generation, i;
  if (!handleParts(v, &generation, &i)) return nullptr;
  Slot& slot = table.slots[i];
  if (slot.generation != generation) return nullptr;
  if (index) *index = i;
  return &slot;
}

// What a value that is not a live handle is, for error messages: "number 3.5", "string", "undefined".
std::string found(const Napi::Value& v) {
  if (v.IsNumber()) {
    std::ostringstream s;
    s << "number " << v.As<Napi::Number>().DoubleValue();
    return s.str();
  }
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_string: return "string";
    case napi_object: return v.IsArray() ? "array" : "object";
    default: return "another value";
  }
}
}  // namespace

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Undefined();
  uint32_t index;
  if (!table.free.empty()) {
    index = table.free.back();
    table.free.pop_back();
  } else {
    if (table.slots.size() >= static_cast<size_t>(kSlots)) throw Napi::Error::New(env, "more than 2^24 live tensors: dispose() them or create them in torch.scope()");
    index = static_cast<uint32_t>(table.slots.size());
    table.slots.emplace_back();
  }
  Slot& slot = table.slots[index];
  if (slot.generation == 0) slot.generation = 1;  // dispose moves it on
  slot.t = std::move(t);
  slot.reportedBytes = storageBytes(slot.t);
  if (slot.reportedBytes) Napi::MemoryManagement::AdjustExternalMemory(env, slot.reportedBytes);
  reportedBytes += slot.reportedBytes;
  liveTensors++;
  return Napi::Number::New(env, slot.generation * kSlots + index);
}

void disposeHandle(Napi::Env env, const Napi::Value& v) {
  uint32_t index;
  Slot* slot = slotOf(v, &index);
  if (!slot || !slot->t.defined()) return;
  slot->t.reset();
  if (slot->reportedBytes) Napi::MemoryManagement::AdjustExternalMemory(env, -slot->reportedBytes);
  reportedBytes -= slot->reportedBytes;
  slot->reportedBytes = 0;
  liveTensors--;
  // the generation moves on now, so this handle is stale even before the slot is reused
  slot->generation = slot->generation + 1 >= kMaxGeneration ? 1 : slot->generation + 1;
  table.free.push_back(index);
}

at::Tensor* peekTensor(const Napi::Value& v) {
  Slot* slot = slotOf(v);
  return slot && slot->t.defined() ? &slot->t : nullptr;
}

bool isTensorHandle(const Napi::Value& v) { return peekTensor(v) != nullptr; }

at::Tensor& unwrapTensor(const Napi::Value& v, const char* what) {
  if (at::Tensor* t = peekTensor(v)) return *t;
  // a handle of an existing slot whose generation has moved on was a tensor once
  uint32_t generation, index;
  if (handleParts(v, &generation, &index)) throw Napi::Error::New(v.Env(), std::string(what) + ": tensor was disposed");
  throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a tensor handle, found " + found(v));
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
