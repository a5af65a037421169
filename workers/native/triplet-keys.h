// The candidate index's triplet keys (core/biometrics/candidate-index.ts) in C++: see triplet-keys.cc.
#ifndef BIOPAY_TRIPLET_KEYS_H
#define BIOPAY_TRIPLET_KEYS_H

#include <node_api.h>

namespace biopay::triplets {

// tripletNeighbours(words, base, settings, neighbours, counts) -> minutiae
napi_value TripletNeighbours(napi_env env, napi_callback_info info);
// tripletKeys(words, base, settings, neighbours, counts, bearings, multiProbe, keys, rotations) -> keys written
napi_value TripletKeys(napi_env env, napi_callback_info info);

}  // namespace biopay::triplets

#endif
