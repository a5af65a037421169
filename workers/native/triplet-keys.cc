// The candidate index's triplet keys (core/biometrics/candidate-index.ts, triangleKeys) in C++:
// every enrolled template is indexed by them and every search probes with them, and in JavaScript
// they were a sixth of a hinted search's CPU.
//
// Two calls around the one function V8 and the C library disagree on: tripletNeighbours finds each
// anchor's nearest neighbours (their offsets and distances), the caller computes their bearings
// with Math.atan2, and tripletKeys orders them and writes the keys. Both repeat the JavaScript's
// arithmetic in the same order (IEEE doubles, no FMA contraction, float coordinates promoted to
// double, Math.imul and ToUint32 for the hashing), so the keys and their order are the same.
//
// Every extent is checked before it is read: a bad call throws (code BAD_REQUEST or
// INVALID_TEMPLATE), never reads or writes out of bounds.

#include "triplet-keys.h"

#include <cmath>
#include <cstdint>

#include "js-math.h"
#include "napi-args.h"

namespace biopay::triplets {
namespace {

using namespace biopay::js;
using namespace biopay::napi;

constexpr uint32_t kHeaderWords = 2;
constexpr int kSettingCount = 9;
constexpr int kKeyDims = 4;
// Per kept neighbour in the neighbours array: other minutia, dx, dy, distance.
constexpr int kNeighbourFields = 4;
constexpr int kMaxNeighboursPerAnchor = 16;
constexpr int kMaxTemplateMinutiae = 1024;
// Bounds that keep every bin computed below far inside an int32 (ISO records give 16-bit pixels and
// directions in [0, 2 pi)); a template or call outside them is refused, never converted with
// undefined behaviour.
constexpr double kMaxCoordinatePx = 1e6;
constexpr double kMaxDirectionRad = 1e6;
constexpr double kMinDistanceBinPx = 1e-3;
constexpr int kMaxAngleBins = 4096;
// Rotation bins are written as bytes.
constexpr int kMaxRotationBins = 256;

struct Settings {
  int neighboursPerAnchor;
  double minNeighbourPx;
  double maxNeighbourPx;
  double distanceBinPx;
  int bearingBins;
  double edgeShare;
  int directionBins;
  int rotationBins;
  int maxTemplateMinutiae;
};

bool validSettings(const double* raw, Settings* s) {
  if (!allFinite(raw, kSettingCount)) return false;
  s->minNeighbourPx = raw[1];
  s->maxNeighbourPx = raw[2];
  s->distanceBinPx = raw[3];
  s->edgeShare = raw[5];
  return integerSetting(raw[0], 1, kMaxNeighboursPerAnchor, &s->neighboursPerAnchor) && integerSetting(raw[4], 1, kMaxAngleBins, &s->bearingBins) &&
         integerSetting(raw[6], 1, kMaxAngleBins, &s->directionBins) && integerSetting(raw[7], 1, kMaxRotationBins, &s->rotationBins) &&
         (s->rotationBins & (s->rotationBins - 1)) == 0 && integerSetting(raw[8], 1, kMaxTemplateMinutiae, &s->maxTemplateMinutiae) &&
         s->distanceBinPx >= kMinDistanceBinPx && s->minNeighbourPx >= 0 && s->maxNeighbourPx <= kMaxCoordinatePx && s->edgeShare >= 0 &&
         s->edgeShare < 0.5;
}

// candidate-index.ts: positiveAngle (JavaScript's % on doubles is fmod).
inline double positiveAngle(double angle) {
  const double wrapped = std::fmod(angle, kTwoPi);
  return wrapped < 0 ? wrapped + kTwoPi : wrapped;
}

// Math.imul(hash ^ value, 0x01000193).
inline int32_t mix(int32_t hash, int32_t value) {
  return static_cast<int32_t>(static_cast<uint32_t>(hash ^ value) * 0x01000193u);
}

// The template's minutia coordinates and directions (matcher form: x, y, theta after the header).
struct Points {
  const float* x;
  const float* y;
  const float* theta;
  int used;  // minutiae read, at most maxTemplateMinutiae
};

bool pointsAt(napi_env env, const uint32_t* words, size_t length, int64_t base, const Settings& s, Points* points) {
  if (base < 0 || static_cast<uint64_t>(base) + kHeaderWords > length) return throwError(env, "INVALID_TEMPLATE", "template base outside the word array");
  const uint32_t n = words[base + 1];
  if (static_cast<uint64_t>(base) + kHeaderWords + 3ull * n > length) return throwError(env, "INVALID_TEMPLATE", "template runs past the end of the word array");
  const uint32_t* x = words + base + kHeaderWords;
  points->x = reinterpret_cast<const float*>(x);
  points->y = reinterpret_cast<const float*>(x + n);
  points->theta = reinterpret_cast<const float*>(x + 2 * static_cast<size_t>(n));
  points->used = static_cast<int>(n < static_cast<uint32_t>(s.maxTemplateMinutiae) ? n : s.maxTemplateMinutiae);
  for (int index = 0; index < points->used; index++) {
    if (!(std::fabs(points->x[index]) <= kMaxCoordinatePx) || !(std::fabs(points->y[index]) <= kMaxCoordinatePx) ||
        !(std::fabs(points->theta[index]) <= kMaxDirectionRad)) {
      return throwError(env, "INVALID_TEMPLATE", "minutia coordinates must be finite pixels (at most 1e6) and directions finite");
    }
  }
  return true;
}

// The five arguments both entry points start with: the template, the settings and the per-anchor
// neighbour arrays, checked against each other.
struct TripletCall {
  Points points;
  Settings s;
  double* neighbours = nullptr;
  uint8_t* counts = nullptr;
};

bool readCall(napi_env env, napi_value* argv, TripletCall* call) {
  uint32_t* words = nullptr;
  double* raw = nullptr;
  size_t wordsLength = 0, settingsLength = 0, neighboursLength = 0, countsLength = 0;
  int64_t base = 0;
  if (!typedArray(env, argv[0], napi_uint32_array, &words, &wordsLength, "words must be a Uint32Array")) return false;
  if (!integerArgument(env, argv[1], &base, "INVALID_TEMPLATE", "base must be an integer")) return false;
  if (!typedArray(env, argv[2], napi_float64_array, &raw, &settingsLength, "settings must be a Float64Array")) return false;
  if (!typedArray(env, argv[3], napi_float64_array, &call->neighbours, &neighboursLength, "neighbours must be a Float64Array")) return false;
  if (!typedArray(env, argv[4], napi_uint8_array, &call->counts, &countsLength, "counts must be a Uint8Array")) return false;
  if (settingsLength < kSettingCount || !validSettings(raw, &call->s)) return throwError(env, "BAD_REQUEST", "triplet settings are not valid");
  if (!pointsAt(env, words, wordsLength, base, call->s, &call->points)) return false;
  const uint64_t used = static_cast<uint64_t>(call->points.used);
  if (countsLength < used || neighboursLength < used * call->s.neighboursPerAnchor * kNeighbourFields) {
    return throwError(env, "BAD_REQUEST", "neighbours or counts are shorter than the template needs");
  }
  return true;
}

// Neighbours kept for an anchor: its count, never more places than the array has (a caller's counts
// are not trusted).
inline int keptAt(const uint8_t* counts, int anchor, const Settings& s) {
  return counts[anchor] < s.neighboursPerAnchor ? counts[anchor] : s.neighboursPerAnchor;
}

// candidate-index.ts: triangleKeys' neighbour search and `nearest`, for every anchor.
void findNeighbours(const Points& p, const Settings& s, double* neighbours, uint8_t* counts) {
  double foundDistance[kMaxTemplateMinutiae];
  double foundDx[kMaxTemplateMinutiae];
  double foundDy[kMaxTemplateMinutiae];
  int foundOther[kMaxTemplateMinutiae];
  int kept[kMaxNeighboursPerAnchor];
  for (int anchor = 0; anchor < p.used; anchor++) {
    const double ax = p.x[anchor];
    const double ay = p.y[anchor];
    int found = 0;
    for (int other = 0; other < p.used; other++) {
      if (other == anchor) continue;
      const double dx = static_cast<double>(p.x[other]) - ax;
      const double dy = static_cast<double>(p.y[other]) - ay;
      const double distance = std::sqrt(dx * dx + dy * dy);
      if (distance < s.minNeighbourPx || distance > s.maxNeighbourPx) continue;
      foundDistance[found] = distance;
      foundDx[found] = dx;
      foundDy[found] = dy;
      foundOther[found] = other;
      found++;
    }
    int size = 0;
    for (int candidate = 0; candidate < found; candidate++) {
      const double distance = foundDistance[candidate];
      if (size == s.neighboursPerAnchor && distance >= foundDistance[kept[size - 1]]) continue;
      int place = size < s.neighboursPerAnchor ? size++ : size - 1;
      for (; place > 0 && foundDistance[kept[place - 1]] > distance; place--) kept[place] = kept[place - 1];
      kept[place] = candidate;
    }
    counts[anchor] = static_cast<uint8_t>(size);
    for (int index = 0; index < size; index++) {
      double* out = neighbours + (static_cast<size_t>(anchor) * s.neighboursPerAnchor + index) * kNeighbourFields;
      out[0] = foundOther[kept[index]];
      out[1] = foundDx[kept[index]];
      out[2] = foundDy[kept[index]];
      out[3] = foundDistance[kept[index]];
    }
  }
}

// candidate-index.ts: putBins, a value's bin and, near an edge, the adjacent one (-1: none).
inline void putBins(int32_t* bins, int dim, double value, int wrap, bool multiProbe, double edgeShare) {
  const double bin = std::floor(value);
  const double fraction = value - bin;
  int32_t other = -1;
  const int32_t whole = static_cast<int32_t>(bin);
  if (multiProbe && (fraction < edgeShare || fraction > 1 - edgeShare)) {
    other = fraction < 0.5 ? whole - 1 : whole + 1;
    if (wrap > 0) other = (other + wrap) % wrap;
  }
  bins[dim * 2] = wrap > 0 ? whole % wrap : whole;
  bins[dim * 2 + 1] = other;
}

// Keys written, counted past the end of the output when it is short (the caller grows it).
struct KeyOutput {
  uint32_t* keys;
  uint8_t* rotations;
  int64_t capacity;
  int64_t count;
  inline void put(uint32_t key, uint8_t rotation) {
    if (count < capacity) {
      keys[count] = key;
      rotations[count] = rotation;
    }
    count++;
  }
};

// candidate-index.ts: emitTriplet, the keys of (anchor, a, b) with a and b kept-neighbour places.
void emitTriplet(const double* distance, const double* bearing, const double* direction, int a, int b, bool multiProbe, uint8_t rotation,
                 const Settings& s, KeyOutput& out) {
  int32_t bins[kKeyDims * 2];
  putBins(bins, 0, distance[a] / s.distanceBinPx, 0, multiProbe, s.edgeShare);
  putBins(bins, 1, distance[b] / s.distanceBinPx, 0, multiProbe, s.edgeShare);
  putBins(bins, 2, (bearing[a] / kTwoPi) * s.bearingBins, s.bearingBins, multiProbe, s.edgeShare);
  putBins(bins, 3, (bearing[b] / kTwoPi) * s.bearingBins, s.bearingBins, multiProbe, s.edgeShare);
  int allowed = 0;
  for (int dim = 0; dim < kKeyDims; dim++)
    if (bins[dim * 2 + 1] >= 0) allowed |= 1 << dim;
  const int32_t directionA = static_cast<int32_t>(std::floor((direction[a] / kTwoPi) * s.directionBins)) % s.directionBins;
  const int32_t directionB = static_cast<int32_t>(std::floor((direction[b] / kTwoPi) * s.directionBins)) % s.directionBins;
  const int32_t seed = mix(static_cast<int32_t>(0x811c9dc5u), mix(directionA, 1 + directionB));
  for (int mask = 0; mask < 1 << kKeyDims; mask++) {
    if ((mask & allowed) != mask) continue;
    int32_t hash = seed;
    for (int dim = 0; dim < kKeyDims; dim++) hash = mix(hash, bins[dim * 2 + ((mask >> dim) & 1)] + 97 * dim);
    out.put(static_cast<uint32_t>(hash), rotation);
  }
}

// candidate-index.ts: triangleKeys after the bearings: orderByBearing, then every pair's triplet.
void writeKeys(const Points& p, const Settings& s, const double* neighbours, const uint8_t* counts, const double* bearings, bool multiProbe, KeyOutput& out) {
  double distance[kMaxNeighboursPerAnchor];
  double bearing[kMaxNeighboursPerAnchor];
  double direction[kMaxNeighboursPerAnchor];
  int kept[kMaxNeighboursPerAnchor];
  for (int anchor = 0; anchor < p.used; anchor++) {
    const double theta = p.theta[anchor];
    const int size = keptAt(counts, anchor, s);
    for (int index = 0; index < size; index++) {
      const size_t at = static_cast<size_t>(anchor) * s.neighboursPerAnchor + index;
      const double* near = neighbours + at * kNeighbourFields;
      const double other = near[0];
      const int otherIndex = other >= 0 && other < p.used ? static_cast<int>(other) : anchor;
      distance[index] = near[3];
      bearing[index] = bearings[at];
      direction[index] = positiveAngle(static_cast<double>(p.theta[otherIndex]) - theta);
      kept[index] = index;
    }
    for (int index = 1; index < size; index++) {
      const int moving = kept[index];
      int place = index;
      for (; place > 0 && bearing[kept[place - 1]] > bearing[moving]; place--) kept[place] = kept[place - 1];
      kept[place] = moving;
    }
    const uint8_t rotation = static_cast<uint8_t>(static_cast<int32_t>(std::floor((positiveAngle(theta) / kTwoPi) * s.rotationBins)) & (s.rotationBins - 1));
    for (int first = 0; first < size; first++) {
      for (int second = first + 1; second < size; second++) emitTriplet(distance, bearing, direction, kept[first], kept[second], multiProbe, rotation, s, out);
    }
  }
}

}  // namespace

// tripletNeighbours(words, base, settings, neighbours, counts) -> minutiae read: per anchor, its
// nearest neighbours (other, dx, dy, distance; neighboursPerAnchor places each) and how many.
napi_value TripletNeighbours(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!callArguments(env, info, 5, argv, "tripletNeighbours(words, base, settings, neighbours, counts)")) return nullptr;
  TripletCall call;
  if (!readCall(env, argv, &call)) return nullptr;
  findNeighbours(call.points, call.s, call.neighbours, call.counts);
  napi_value used;
  napi_create_int32(env, call.points.used, &used);
  return used;
}

// tripletKeys(words, base, settings, neighbours, counts, bearings, multiProbe, keys, rotations) ->
// keys written, or minus the length keys and rotations need (grow them and call again).
napi_value TripletKeys(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!callArguments(env, info, 9, argv, "tripletKeys(words, base, settings, neighbours, counts, bearings, multiProbe, keys, rotations)")) return nullptr;
  TripletCall call;
  if (!readCall(env, argv, &call)) return nullptr;
  double* bearings = nullptr;
  uint32_t* keys = nullptr;
  uint8_t* rotations = nullptr;
  size_t bearingsLength = 0, keysLength = 0, rotationsLength = 0;
  bool multiProbe = false;
  if (!typedArray(env, argv[5], napi_float64_array, &bearings, &bearingsLength, "bearings must be a Float64Array")) return nullptr;
  if (napi_get_value_bool(env, argv[6], &multiProbe) != napi_ok) return fail(env, "BAD_REQUEST", "multiProbe must be a boolean");
  if (!typedArray(env, argv[7], napi_uint32_array, &keys, &keysLength, "keys must be a Uint32Array")) return nullptr;
  if (!typedArray(env, argv[8], napi_uint8_array, &rotations, &rotationsLength, "rotations must be a Uint8Array")) return nullptr;
  if (bearingsLength < static_cast<uint64_t>(call.points.used) * call.s.neighboursPerAnchor) return fail(env, "BAD_REQUEST", "bearings are shorter than the template needs");
  for (int anchor = 0; anchor < call.points.used; anchor++) {
    const int size = keptAt(call.counts, anchor, call.s);
    for (int place = 0; place < size; place++) {
      const size_t at = static_cast<size_t>(anchor) * call.s.neighboursPerAnchor + place;
      const double distance = call.neighbours[at * kNeighbourFields + 3];
      if (!(distance >= 0 && distance <= 2 * kMaxCoordinatePx) || !(std::fabs(bearings[at]) <= kMaxDirectionRad)) {
        return fail(env, "BAD_REQUEST", "neighbour distances and bearings must be finite and within the template's extent");
      }
    }
  }
  KeyOutput out{keys, rotations, static_cast<int64_t>(keysLength < rotationsLength ? keysLength : rotationsLength), 0};
  writeKeys(call.points, call.s, call.neighbours, call.counts, bearings, multiProbe, out);
  napi_value written;
  napi_create_double(env, out.count <= out.capacity ? static_cast<double>(out.count) : -static_cast<double>(out.count), &written);
  return written;
}

}  // namespace biopay::triplets
