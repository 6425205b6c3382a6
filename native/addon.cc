// The native addon: a thin, context-aware binding of libtorch for Node (also inside worker_threads).
#include <napi.h>

#include "runtime.h"

namespace sa {
void registerDistributed(Napi::Env env, Napi::Object exports);  // distributed.cc
void installHugePageAllocator();                                  // huge-page-allocator.cc
}

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sa::installHugePageAllocator();
  exports.Set("opLookup", Napi::Function::New(env, sa::OpLookup, "opLookup"));
  exports.Set("opSchema", Napi::Function::New(env, sa::OpSchema, "opSchema"));
  exports.Set("opCall", Napi::Function::New(env, sa::OpCall, "opCall"));
  sa::registerRuntime(env, exports);
  sa::registerDistributed(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(stable_animator_torch, Init)
