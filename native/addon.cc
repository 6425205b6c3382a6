// The native addon: a thin, context-aware binding of libtorch for Node (also inside worker_threads).
#include <malloc.h>
#include <napi.h>

#include <mutex>

#include "runtime.h"

namespace sa {
void registerDistributed(Napi::Env env, Napi::Object exports);  // distributed.cc
}

namespace {

// Keeps freed memory in the heap instead of handing big blocks back to the OS: glibc maps every block over
// 32 MB afresh and a new mapping costs a page fault per 4 KB on first touch, which on these VMs made a 64 MB
// elementwise op spend ~85% of its time faulting (mul 114 ms vs 15 ms into warm memory). Tensors of one
// model repeat their sizes, so reused warm blocks serve them; peak RSS stays the high-water mark.
void keepFreedMemory() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  keepFreedMemory();
  exports.Set("opLookup", Napi::Function::New(env, sa::OpLookup, "opLookup"));
  exports.Set("opSchema", Napi::Function::New(env, sa::OpSchema, "opSchema"));
  exports.Set("opCall", Napi::Function::New(env, sa::OpCall, "opCall"));
  sa::registerRuntime(env, exports);
  sa::registerDistributed(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(stable_animator_torch, Init)
