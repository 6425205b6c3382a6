// Tensor handles: a JS External owning one at::Tensor reference.
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <atomic>
#include <string>

namespace sa {

struct TensorBox {
  at::Tensor t;
  int64_t reportedBytes = 0;  // what was told to V8 as external memory
};

// Live handles (created and neither disposed nor finalized), for leak tests.
extern std::atomic<int64_t> liveTensors;
// Bytes of storage the live handles have reported to V8 as external memory.
extern std::atomic<int64_t> reportedBytes;

Napi::Value wrapTensor(Napi::Env env, at::Tensor t);
// Throws a JS TypeError naming `what` when v is not a live tensor handle.
at::Tensor& unwrapTensor(const Napi::Value& v, const char* what);
bool isTensorHandle(const Napi::Value& v);
void disposeTensor(Napi::Env env, TensorBox* box);

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
