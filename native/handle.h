// Tensor handles: a JS number naming a slot of this thread's table, which owns one at::Tensor reference.
// (An External per tensor cost 0.8 us of a 1.7 us add: its allocation, type tag and N-API finalizer; the
// JS Tensor that holds a handle frees its slot on dispose() or, through a FinalizationRegistry, at GC.)
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <atomic>
#include <string>

namespace sa {

// Live handles (created and neither disposed nor finalized), for leak tests.
extern std::atomic<int64_t> liveTensors;
// Bytes of storage the live handles have reported to V8 as external memory.
extern std::atomic<int64_t> reportedBytes;

// A new handle owning t (undefined for an undefined tensor).
Napi::Value wrapTensor(Napi::Env env, at::Tensor t);
// The tensor of a live handle; a JS TypeError naming `what` when v is not one (disposed: says so).
at::Tensor& unwrapTensor(const Napi::Value& v, const char* what);
// The tensor of a live handle, or nullptr.
at::Tensor* peekTensor(const Napi::Value& v);
bool isTensorHandle(const Napi::Value& v);
// Frees the handle's slot; a stale, disposed or foreign value is ignored (dispose is idempotent).
void disposeHandle(Napi::Env env, const Napi::Value& v);

std::string describe(const at::Tensor& t);  // "f32[2,3] cpu"
const char* dtypeName(at::ScalarType s);

// Runs f, turning C++ exceptions into JS exceptions prefixed by `context`.
template <typename F>
auto guarded(Napi::Env env, const std::string& context, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, context + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, context + ": " + e.what());
  }
}

}  // namespace sa
