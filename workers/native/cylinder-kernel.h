// Minutia Cylinder-Code cylinders (core/biometrics/cylinder.ts) in C++: see cylinder-kernel.cc.
#ifndef BIOPAY_CYLINDER_KERNEL_H
#define BIOPAY_CYLINDER_KERNEL_H

#include <node_api.h>

namespace biopay::cylinders {

// buildCylinders(xs, ys, thetas, frames, count, settings, bits, usable)
napi_value BuildCylinders(napi_env env, napi_callback_info info);

}  // namespace biopay::cylinders

#endif
