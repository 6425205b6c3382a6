// Every ATen operator through one generic, boxed entry point: the operator schemas
// (native_functions.yaml, inside libtorch) are the op table; no wrapper per op.
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "handle.h"
#include "runtime.h"

namespace sa {
namespace {

struct OpEntry {
  c10::OperatorHandle handle;
  std::string name;
  // >= 0: this .Scalar overload runs as its .Tensor sibling (`handle`), the number at this argument
  // passed as a wrapped-number tensor (see numberAsTensorArg).
  int wrappedArg = -1;
  // != None: an out-of-place elementwise add/sub/mul/div, called unboxed when given just (tensor, other).
  enum class Binary { None, Add, Sub, Mul, Div } binary = Binary::None;
};

// The unboxed kernels of the fast path: the boxed call (an IValue stack, the boxing adapter) cost 0.11 us of
// add's 0.76 (docs/engine.md); these go through the same dispatcher keys (autograd, autocast) as at::add does.
at::Tensor callBinary(OpEntry::Binary op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case OpEntry::Binary::Add: return at::add(a, b);
    case OpEntry::Binary::Sub: return at::sub(a, b);
    case OpEntry::Binary::Mul: return at::mul(a, b);
    default: return at::div(a, b);
  }
}

OpEntry::Binary binaryOf(const std::string& name, const std::string& overload) {
  if (overload != "Tensor" && overload != "Scalar") return OpEntry::Binary::None;
  if (name == "aten::add") return OpEntry::Binary::Add;
  if (name == "aten::sub") return OpEntry::Binary::Sub;
  if (name == "aten::mul") return OpEntry::Binary::Mul;
  if (name == "aten::div") return OpEntry::Binary::Div;
  return OpEntry::Binary::None;
}

// add/sub/mul/div(_).Scalar: Python calls the .Tensor overload with the number as a wrapped-number tensor
// (python_arg_parser's should_allow_numbers_as_tensors lists exactly these ops; their .Scalar kernels only
// wrap the number and re-dispatch). Doing the same skips that second dispatch (docs/engine.md, per-op overhead).
// Returns the index of the Scalar argument that the .Tensor schema takes as a Tensor, or -1.
int numberAsTensorArg(const std::string& name, const std::string& overload, const c10::FunctionSchema& scalarSchema,
                      const c10::FunctionSchema& tensorSchema) {
  static const char* kOps[] = {"aten::add", "aten::add_", "aten::sub", "aten::sub_",
                               "aten::mul", "aten::mul_", "aten::div", "aten::div_"};
  if (overload != "Scalar" || std::find(std::begin(kOps), std::end(kOps), name) == std::end(kOps)) return -1;
  const auto& a = scalarSchema.arguments();
  const auto& b = tensorSchema.arguments();
  if (a.size() != b.size() || scalarSchema.returns().size() != tensorSchema.returns().size()) return -1;
  int found = -1;
  for (size_t i = 0; i < a.size(); i++) {
    if (*a[i].type() == *b[i].type()) continue;
    if (found >= 0 || a[i].type()->kind() != c10::TypeKind::NumberType ||
        b[i].type()->kind() != c10::TypeKind::TensorType)
      return -1;
    found = static_cast<int>(i);
  }
  return found > 0 ? found : -1;  // argument 0 is the tensor that picks the wrapped number's dtype
}

// The number as Python wraps it (int -> i64, float -> f64, bool -> bool, marked a wrapped number so that it
// does not promote the other tensor), except that next to an f32 or f64 tensor it is made in that dtype
// directly: TensorIterator would cast it to that dtype anyway (a static_cast, the same one as here; integral
// JS numbers are below 2^53, so exact in f64), and the cast is a whole to() call per op.
at::Tensor wrappedNumber(const Napi::Value& v, const at::Tensor* self) {
  at::Tensor t;
  if (v.IsBoolean()) {
    t = at::detail::empty_cpu({}, at::kBool);
    *t.data_ptr<bool>() = v.As<Napi::Boolean>().Value();
  } else {
    double d = v.As<Napi::Number>().DoubleValue();
    auto near = self && self->defined() ? self->scalar_type() : at::kLong;
    bool integral = std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9.007199254740992e15;
    auto dtype = near == at::kFloat || near == at::kDouble ? near : integral ? at::kLong : at::kDouble;
    t = at::detail::empty_cpu({}, dtype);
    if (dtype == at::kFloat) *t.data_ptr<float>() = static_cast<float>(d);
    else if (dtype == at::kDouble) *t.data_ptr<double>() = d;
    else *t.data_ptr<int64_t>() = static_cast<int64_t>(d);
  }
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

// Fixed capacity so that entries never move while another thread (a worker) reads them.
constexpr size_t kMaxOps = 4096;
std::vector<OpEntry>& opTable() {
  static std::vector<OpEntry> table = [] {
    std::vector<OpEntry> t;
    t.reserve(kMaxOps);
    return t;
  }();
  return table;
}
std::mutex opTableMutex;

int64_t toInt(Napi::Env env, const Napi::Value& v, const c10::Argument& a) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "argument '" + a.name() + "': expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)))
    throw Napi::TypeError::New(env, "argument '" + a.name() + "': expected an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

double toDouble(Napi::Env env, const Napi::Value& v, const c10::Argument& a) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "argument '" + a.name() + "': expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

c10::IValue toIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& a);

c10::IValue toList(Napi::Env env, const Napi::Value& v, const c10::ListTypePtr& lt, const c10::Argument& a) {
  const auto& elem = lt->getElementType();
  auto kind = elem->kind();
  bool intLike = kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType;
  // int[2] given as one number means that number repeated, as in Python.
  if (!v.IsArray()) {
    if (intLike && v.IsNumber() && a.N()) return c10::IValue(std::vector<int64_t>(*a.N(), toInt(env, v, a)));
    if (kind == c10::TypeKind::TensorType && isTensorHandle(v))
      return c10::IValue(std::vector<at::Tensor>{unwrapTensor(v, a.name().c_str())});
    throw Napi::TypeError::New(env, "argument '" + a.name() + "': expected an array");
  }
  auto arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  if (intLike) {
    std::vector<int64_t> out(n);
    for (uint32_t i = 0; i < n; i++) out[i] = toInt(env, arr.Get(i), a);
    return c10::IValue(out);
  }
  if (kind == c10::TypeKind::FloatType) {
    std::vector<double> out(n);
    for (uint32_t i = 0; i < n; i++) out[i] = toDouble(env, arr.Get(i), a);
    return c10::IValue(out);
  }
  if (kind == c10::TypeKind::BoolType) {
    c10::List<bool> out;
    for (uint32_t i = 0; i < n; i++) out.push_back(arr.Get(i).ToBoolean().Value());
    return c10::IValue(out);
  }
  if (kind == c10::TypeKind::TensorType) {
    std::vector<at::Tensor> out;
    out.reserve(n);
    for (uint32_t i = 0; i < n; i++) out.push_back(unwrapTensor(arr.Get(i), a.name().c_str()));
    return c10::IValue(out);
  }
  if (kind == c10::TypeKind::OptionalType) {
    c10::List<c10::optional<at::Tensor>> out;
    for (uint32_t i = 0; i < n; i++) {
      auto e = arr.Get(i);
      if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
      else out.push_back(unwrapTensor(e, a.name().c_str()));
    }
    return c10::IValue(out);
  }
  throw Napi::TypeError::New(env, "argument '" + a.name() + "': unsupported list type " + lt->str());
}

c10::IValue toIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& a) {
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return unwrapTensor(v, a.name().c_str());
    case c10::TypeKind::OptionalType:
      if (v.IsUndefined() || v.IsNull()) return c10::IValue();
      return toIValue(env, v, type->expectRef<c10::OptionalType>().getElementType(), a);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return toInt(env, v, a);
    case c10::TypeKind::FloatType:
      return toDouble(env, v, a);
    case c10::TypeKind::BoolType:
      return v.ToBoolean().Value();
    case c10::TypeKind::NumberType: {  // Scalar: integral JS numbers stay integral, as Python ints do
      if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
      double d = toDouble(env, v, a);
      if (std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9.007199254740992e15)
        return c10::Scalar(static_cast<int64_t>(d));
      return c10::Scalar(d);
    }
    case c10::TypeKind::StringType:
      if (!v.IsString()) throw Napi::TypeError::New(env, "argument '" + a.name() + "': expected a string");
      return v.As<Napi::String>().Utf8Value();
    case c10::TypeKind::ListType:
      return toList(env, v, type->expect<c10::ListType>(), a);
    case c10::TypeKind::DeviceObjType:
      return c10::Device(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::GeneratorType:
      return c10::IValue(unwrapGenerator(v));
    default:
      // ScalarType, Layout and MemoryFormat travel as their integer codes.
      if (v.IsNumber()) return toInt(env, v, a);
      throw Napi::TypeError::New(env, "argument '" + a.name() + "': unsupported type " + type->str());
  }
}

Napi::Value fromIValue(Napi::Env env, c10::IValue&& v) {
  if (v.isTensor()) return wrapTensor(env, std::move(v).toTensor());
  if (v.isNone()) return env.Undefined();
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isTensorList()) {
    auto list = std::move(v).toTensorList();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(i, wrapTensor(env, list.get(i)));
    return arr;
  }
  if (v.isTuple()) {
    auto& elems = v.toTupleRef().elements();
    auto arr = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) arr.Set(i, fromIValue(env, c10::IValue(elems[i])));
    return arr;
  }
  if (v.isList()) {
    auto list = v.toList();
    auto arr = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) arr.Set(i, fromIValue(env, list.get(i)));
    return arr;
  }
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  throw Napi::Error::New(env, "unsupported return type " + v.tagKind());
}

std::string describeCall(const OpEntry& op, const Napi::CallbackInfo& info) {
  std::string s = op.name + "(";
  for (uint32_t i = 0; i + 1 < info.Length(); i++) {
    Napi::Value v = info[i + 1];
    if (i) s += ", ";
    if (at::Tensor* t = peekTensor(v)) {
      s += describe(*t);
    } else if (v.IsArray()) {
      auto a = v.As<Napi::Array>();
      s += "[";
      for (uint32_t j = 0; j < a.Length(); j++) {
        auto e = a.Get(j);
        if (j) s += ",";
        at::Tensor* t = peekTensor(e);
        s += t ? describe(*t) : e.ToString().Utf8Value();
      }
      s += "]";
    } else {
      s += v.IsUndefined() ? "_" : v.ToString().Utf8Value();
    }
  }
  return s + ")";
}

}  // namespace

// op_lookup("aten::add", "Tensor") -> id
Napi::Value OpLookup(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  std::string name = info[0].As<Napi::String>();
  std::string overload = info[1].As<Napi::String>();
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!handle) throw Napi::Error::New(env, "unknown operator " + name + (overload.empty() ? "" : "." + overload));
  std::lock_guard<std::mutex> lock(opTableMutex);
  auto& table = opTable();
  std::string full = name + (overload.empty() ? "" : "." + overload);
  for (size_t i = 0; i < table.size(); i++)
    if (table[i].name == full) return Napi::Number::New(env, static_cast<double>(i));
  if (table.size() == kMaxOps) throw Napi::Error::New(env, "operator table full");
  OpEntry entry{*handle, full};
  if (auto tensorHandle = c10::Dispatcher::singleton().findSchema({name, "Tensor"})) {
    entry.wrappedArg = numberAsTensorArg(name, overload, handle->schema(), tensorHandle->schema());
    if (entry.wrappedArg >= 0) entry.handle = *tensorHandle;
  }
  // the Scalar overloads only when they run as their Tensor sibling (the number becomes a wrapped tensor)
  if (overload == "Tensor" || entry.wrappedArg == 1) entry.binary = binaryOf(name, overload);
  table.push_back(std::move(entry));
  return Napi::Number::New(env, static_cast<double>(table.size() - 1));
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  auto& op = opTable().at(info[0].As<Napi::Number>().Uint32Value());
  std::ostringstream s;
  s << op.handle.schema();
  return Napi::String::New(info.Env(), s.str());
}

// op_call(id, ...args) -> result; arguments in schema order, undefined = the schema's default.
Napi::Value OpCall(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const auto& op = opTable()[info[0].As<Napi::Number>().Uint32Value()];
  const auto& schema = op.handle.schema();
  const auto& formals = schema.arguments();
  uint32_t given = static_cast<uint32_t>(info.Length()) - 1;
  // (generated wrappers pass optional arguments such as alpha as undefined: they count as not given)
  if (op.binary != OpEntry::Binary::None && given >= 2 && (given == 2 || (given == 3 && info[3].IsUndefined()))) {
    if (at::Tensor* a = peekTensor(info[1])) {
      Napi::Value v = info[2];
      at::Tensor number;
      at::Tensor* b = nullptr;
      if (op.wrappedArg == 1) {
        if (v.IsNumber() || v.IsBoolean()) b = &(number = wrappedNumber(v, a));
      } else {
        b = peekTensor(v);
      }
      if (b) {
        try {
          return wrapTensor(env, callBinary(op.binary, *a, *b));
        } catch (const c10::Error& e) {
          throw Napi::Error::New(env, describeCall(op, info) + ": " + e.what_without_backtrace());
        } catch (const std::exception& e) {
          throw Napi::Error::New(env, describeCall(op, info) + ": " + e.what());
        }
      }
    }
    // anything else (a disposed handle, alpha, a wrong type) takes the generic path and its messages
  }
  if (given > formals.size())
    throw Napi::Error::New(env, describeCall(op, info) + ": too many arguments for " + op.name);
  // One stack per thread, reused (no allocation per call); a call made from inside an op (a JS callback
  // during checkpoint recomputation) gets its own.
  static thread_local torch::jit::Stack reused;
  static thread_local bool reusedBusy = false;
  torch::jit::Stack local;
  bool useReused = !reusedBusy;
  torch::jit::Stack& stack = useReused ? reused : local;
  struct Release {
    torch::jit::Stack& stack;
    bool owned;
    ~Release() {
      stack.clear();
      if (owned) reusedBusy = false;
    }
  } release{stack, useReused};
  if (useReused) reusedBusy = true;
  stack.reserve(formals.size());
  try {
    for (size_t i = 0; i < formals.size(); i++) {
      const auto& a = formals[i];
      Napi::Value v = i < given ? info[i + 1] : env.Undefined();
      if (v.IsUndefined()) {
        if (a.default_value()) { stack.push_back(*a.default_value()); continue; }
        if (a.type()->kind() == c10::TypeKind::OptionalType) { stack.emplace_back(); continue; }
        throw Napi::TypeError::New(env, "missing argument '" + a.name() + "'");
      }
      if (static_cast<int>(i) == op.wrappedArg && (v.IsNumber() || v.IsBoolean()))
        stack.push_back(wrappedNumber(v, stack[0].isTensor() ? &stack[0].toTensor() : nullptr));
      else
        stack.push_back(toIValue(env, v, a.type(), a));
    }
  } catch (const Napi::Error& e) {
    throw Napi::Error::New(env, describeCall(op, info) + ": " + e.Message());
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, describeCall(op, info) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, describeCall(op, info) + ": " + e.what());
  }
  try {
    op.handle.callBoxed(&stack);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, describeCall(op, info) + ": " + e.what_without_backtrace());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, describeCall(op, info) + ": " + e.what());
  }
  if (stack.size() == 1) return fromIValue(env, std::move(stack[0]));
  auto out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); i++) out.Set(i, fromIValue(env, std::move(stack[i])));
  return out;
}

}  // namespace sa
