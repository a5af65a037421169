// The JavaScript constants the native kernels mirror, spelled once.
#ifndef BIOPAY_JS_MATH_H
#define BIOPAY_JS_MATH_H

namespace biopay::js {

constexpr double kPi = 3.141592653589793;  // Math.PI
constexpr double kTwoPi = 2 * kPi;          // 2 * Math.PI, as the JavaScript computes it
constexpr double kSqrt2 = 1.4142135623730951;  // Math.SQRT2

}  // namespace biopay::js

#endif
