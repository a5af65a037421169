// Minutia Cylinder-Code cylinders (core/biometrics/cylinder.ts) in C++: see cylinder-kernel.cc.
#ifndef BIOPAY_CYLINDER_KERNEL_H
#define BIOPAY_CYLINDER_KERNEL_H

#include <node_api.h>

namespace biopay::cylinders {

// buildCylinders(xs, ys, thetas, frames, count, settings, bits, usable)
napi_value BuildCylinders(napi_env env, napi_callback_info info);

// expNonPositiveMany(xs, out, allowWide?) and erfMany(xs, out, allowWide?): the kernel's own e^x and
// erf over many arguments, for tests.
napi_value ExpNonPositiveMany(napi_env env, napi_callback_info info);
napi_value ErfMany(napi_env env, napi_callback_info info);

}  // namespace biopay::cylinders

#endif
