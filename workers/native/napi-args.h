// Node-API argument checks shared by the addon's entry points: each failure throws a JavaScript
// RangeError whose code names the problem (BAD_REQUEST, INVALID_TEMPLATE) and returns false or
// nullptr, so an entry point returns at once.
#ifndef BIOPAY_NAPI_ARGS_H
#define BIOPAY_NAPI_ARGS_H

#include <node_api.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace biopay::napi {

inline bool throwError(napi_env env, const char* code, const char* message) {
  napi_throw_range_error(env, code, message);
  return false;
}

inline napi_value fail(napi_env env, const char* code, const char* message) {
  throwError(env, code, message);
  return nullptr;
}

// The call's first `count` arguments, or a thrown error naming the expected call.
inline bool callArguments(napi_env env, napi_callback_info info, size_t count, napi_value* argv, const char* usage) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < count) return throwError(env, "BAD_REQUEST", usage);
  return true;
}

template <typename T>
inline bool typedArray(napi_env env, napi_value value, napi_typedarray_type expected, T** data, size_t* length, const char* what) {
  bool isTyped = false;
  if (napi_is_typedarray(env, value, &isTyped) != napi_ok || !isTyped) return throwError(env, "BAD_REQUEST", what);
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok || type != expected) return throwError(env, "BAD_REQUEST", what);
  *data = static_cast<T*>(raw);
  return true;
}

inline bool integerArgument(napi_env env, napi_value value, int64_t* out, const char* code, const char* what) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok || !(number >= -9007199254740991.0 && number <= 9007199254740991.0) || std::trunc(number) != number) {
    return throwError(env, code, what);
  }
  *out = static_cast<int64_t>(number);
  return true;
}

// `required` arguments and an optional boolean after them (absent or undefined leaves *flag):
// argv has room for required + 1.
inline bool argumentsAndFlag(napi_env env, napi_callback_info info, size_t required, napi_value* argv, bool* flag, const char* usage, const char* flagWhat) {
  size_t argc = required + 1;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < required) return throwError(env, "BAD_REQUEST", usage);
  if (argc <= required) return true;
  napi_valuetype type = napi_undefined;
  if (napi_typeof(env, argv[required], &type) != napi_ok) return throwError(env, "BAD_REQUEST", flagWhat);
  if (type == napi_undefined) return true;
  if (type != napi_boolean || napi_get_value_bool(env, argv[required], flag) != napi_ok) return throwError(env, "BAD_REQUEST", flagWhat);
  return true;
}

// Every one of the first `count` settings finite (NaN and infinities refused before any use).
inline bool allFinite(const double* values, int count) {
  for (int index = 0; index < count; index++)
    if (!std::isfinite(values[index])) return false;
  return true;
}

// A setting that must be an integer in [low, high]: checked before the conversion, which is
// undefined behaviour for a double outside int's range.
inline bool integerSetting(double value, int low, int high, int* out) {
  if (!(value >= low && value <= high) || std::trunc(value) != value) return false;
  *out = static_cast<int>(value);
  return true;
}

}  // namespace biopay::napi

#endif
