#pragma once
#include <napi.h>
#include <torch/torch.h>

namespace sa {

at::Generator unwrapGenerator(const Napi::Value& v);

// dispatch.cc
Napi::Value OpLookup(const Napi::CallbackInfo& info);
Napi::Value OpSchema(const Napi::CallbackInfo& info);
Napi::Value OpCall(const Napi::CallbackInfo& info);

// runtime.cc
void registerRuntime(Napi::Env env, Napi::Object exports);

}  // namespace sa
