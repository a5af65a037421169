// The cylinders of one template (core/biometrics/cylinder.ts, buildCylinders) in C++: every probe
// of an identify and every enrolled template is converted, and in JavaScript this was a third of a
// hinted search's CPU.
//
// It must set the JavaScript's bits exactly, so it repeats its arithmetic in the same order with
// IEEE doubles (no FMA contraction, no fast-math, float coordinates promoted to double). The two
// functions whose results differ between V8 and the C library are kept out: the caller passes
// each minutia's cosine and sine (Math.cos, Math.sin), and e^x is geometry.ts's expNonPositive,
// which both sides compute from the same additions and multiplications. The exponentials of a
// minutia (its neighbours' direction terms, then its cells' spatial terms) and the erf terms are
// gathered and computed two at a time in SSE2 lanes, each lane the scalar's operations in the
// scalar's order, and the sums are then added in the order the terms were found: the same bits,
// about a fifth less time per probe converted (README). On a CPU with AVX-512F they go eight at a
// time, as do the hull tests of a minutia's cells, its terms' sums (one lane per direction cell)
// and each cell's bits: 129 -> 102 us per synthetic probe (35 minutiae), the same bits. The build
// leaves out math errno (-fno-math-errno), so sqrt is one instruction instead of a library call;
// its result is the same correctly rounded value.
//
// Coordinates must be finite pixels (ISO records give 16-bit integers); counts and lengths are checked before
// anything is read, so a bad call throws (code BAD_REQUEST), never reads out of bounds.

#include "cylinder-kernel.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// The eight-wide code (exponentials, erf terms, hull tests, sums and bits) is compiled for AVX-512F
// whatever the build's target, and chosen at run time only on a CPU that has it (and when the
// caller allows).
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BIOPAY_HAS_WIDE_CYLINDERS 1
#define BIOPAY_AVX512F __attribute__((target("avx512f")))
#else
#define BIOPAY_HAS_WIDE_CYLINDERS 0
#endif

#include "js-math.h"
#include "napi-args.h"
#include "thread-scratch.h"

namespace biopay::cylinders {
namespace {

using namespace biopay::js;
using namespace biopay::napi;

constexpr int kSettingCount = 10;
// Far above what a template holds (the matcher keeps 128 minutiae), small enough for int indices.
constexpr int64_t kMaxMinutiae = 4096;
constexpr int kMaxCellsPerSide = 32;
constexpr int kMaxDirectionCells = 32;
// Coordinates past this are no template's (ISO records hold 16-bit pixels): refused, so that every
// cell index computed from them fits an int.
constexpr double kMaxCoordinatePx = 1e6;
// Directions are in [0, 2 pi) from an ISO record; past this angleDiff's folding loops would run long.
constexpr double kMaxDirectionRad = 8 * kPi;
// Rounding slack of nearHull (geometry.ts, hullSlackPx).
constexpr double kHullSlackPx = 1e-6;

struct Settings {
  double radiusPx;
  int spatialCells;
  int directionCells;
  double sigmaSpatialPx;
  double sigmaDirectionRad;
  double bitThreshold;
  double hullMarginPx;
  double minValidCellShare;
  double minNeighbours;
  int words;
};

// geometry.ts: angleDiff.
inline double angleDiff(double a, double b) {
  double d = a - b;
  while (d >= kPi) d -= kTwoPi;
  while (d < -kPi) d += kTwoPi;
  return d;
}

// geometry.ts: the powers 2^-k by exact halving, and expNonPositive step for step.
struct InversePowers {
  double values[1075];
  InversePowers() {
    values[0] = 1;
    for (int k = 1; k < 1075; k++) values[k] = values[k - 1] * 0.5;
  }
};
const InversePowers kInversePowers;

// The series of expNonPositive, Horner's order, as one expression per type (double or a pair).
#define BIOPAY_EXP_SERIES(r, one, c) \
  (one + r * (one + r * (c(1.0 / 2) + r * (c(1.0 / 6) + r * (c(1.0 / 24) + r * (c(1.0 / 120) + r * (c(1.0 / 720) + r * (c(1.0 / 5040) + r * (c(1.0 / 40320) \
    + r * (c(1.0 / 362880) + r * (c(1.0 / 3628800) + r * (c(1.0 / 39916800) + r * (c(1.0 / 479001600) + r * c(1.0 / 6227020800))))))))))))))

// x = k ln2 + r (ln2 in two parts), as geometry.ts splits it.
constexpr double kInverseLn2 = 1.44269504088896338700;
constexpr double kLn2High = 0.693147180369123816490;
constexpr double kLn2Low = 1.90821492927058770002e-10;

inline double expNonPositive(double x) {
  if (!(x > -745.2)) return x == x ? 0 : x;
  const double k = std::floor(x * kInverseLn2 + 0.5);
  const double r = x - k * kLn2High - k * kLn2Low;
  const double series = BIOPAY_EXP_SERIES(r, 1.0, double);
  const int negK = static_cast<int>(-k);
  return negK > 1000 ? series * kInversePowers.values[1000] * kInversePowers.values[negK - 1000] : series * kInversePowers.values[negK];
}

// geometry.ts: erf (Abramowitz-Stegun 7.1.26): its polynomial in t = 1 / (1 + 0.3275911 |x|), per type.
#define BIOPAY_ERF_POLY(t, c) \
  (t * (c(0.254829592) + t * (c(-0.284496736) + t * (c(1.421413741) + t * (c(-1.453152027) + t * c(1.061405429))))))

// erf of x, given e^(-x^2) (computed in pairs by the caller).
inline double erfGivenExp(double x, double expMinusSquare) {
  const double sign = x < 0 ? -1 : 1;
  const double a = std::fabs(x);
  const double t = 1 / (1 + 0.3275911 * a);
  return sign * (1 - BIOPAY_ERF_POLY(t, double) * expMinusSquare);
}

#if defined(__SSE2__)
// A pair of doubles with the operators the series needs: each lane is the scalar arithmetic, the
// same IEEE operations in the same order (SSE2 has no fused multiply-add to contract them into).
struct Pair {
  __m128d v;
};
inline Pair operator+(Pair a, Pair b) { return {_mm_add_pd(a.v, b.v)}; }
inline Pair operator-(Pair a, Pair b) { return {_mm_sub_pd(a.v, b.v)}; }
inline Pair operator*(Pair a, Pair b) { return {_mm_mul_pd(a.v, b.v)}; }
inline Pair splat(double value) { return {_mm_set1_pd(value)}; }

// Arguments below this take expNonPositive's other paths (underflow, split scaling), and any above
// 0 (outside its domain) or NaN: done one by one, as the scalar does them.
constexpr double kPairExpLowest = -700;

inline bool pairable(double x) { return x > kPairExpLowest && x <= 0; }

// expNonPositive of two pairable arguments, bit for bit: the floor by truncation
// (exact for these magnitudes, and the scalar's floor of a negative non-integer is one below).
inline Pair expPair(Pair x) {
  const Pair t = x * splat(kInverseLn2) + splat(0.5);
  const __m128d truncated = _mm_cvtepi32_pd(_mm_cvttpd_epi32(t.v));
  const Pair k = {_mm_sub_pd(truncated, _mm_and_pd(_mm_cmpgt_pd(truncated, t.v), _mm_set1_pd(1.0)))};
  const Pair r = x - k * splat(kLn2High) - k * splat(kLn2Low);
  const Pair series = BIOPAY_EXP_SERIES(r, splat(1.0), splat);
  const __m128i negK = _mm_cvttpd_epi32(_mm_sub_pd(_mm_setzero_pd(), k.v));
  const int low = _mm_cvtsi128_si32(negK);
  const int high = _mm_cvtsi128_si32(_mm_srli_si128(negK, 4));
  return series * Pair{_mm_set_pd(kInversePowers.values[high], kInversePowers.values[low])};
}
#endif

#if BIOPAY_HAS_WIDE_CYLINDERS
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized in their own undefined-vector helpers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Eight doubles with the series' operators: each lane the scalar's IEEE operations in its order
// (the build turns contraction off, so no multiply-add is fused).
struct Oct {
  __m512d v;
};
BIOPAY_AVX512F inline Oct operator+(Oct a, Oct b) { return {_mm512_add_pd(a.v, b.v)}; }
BIOPAY_AVX512F inline Oct operator-(Oct a, Oct b) { return {_mm512_sub_pd(a.v, b.v)}; }
BIOPAY_AVX512F inline Oct operator*(Oct a, Oct b) { return {_mm512_mul_pd(a.v, b.v)}; }
BIOPAY_AVX512F inline Oct splat8(double value) { return {_mm512_set1_pd(value)}; }

// expNonPositive of the lanes in `inRange` (the others come out 0): the floor is exact (round
// toward minus infinity), the power read from the same table as the scalar's.
BIOPAY_AVX512F inline Oct expOct(Oct x, __mmask8 inRange) {
  const Oct t = x * splat8(kInverseLn2) + splat8(0.5);
  const Oct k = {_mm512_roundscale_pd(t.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)};
  const Oct r = x - k * splat8(kLn2High) - k * splat8(kLn2Low);
  const Oct series = BIOPAY_EXP_SERIES(r, splat8(1.0), splat8);
  const __m256i negK = _mm512_cvttpd_epi32(_mm512_sub_pd(_mm512_setzero_pd(), k.v));
  const __m512d power = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), inRange, negK, kInversePowers.values, 8);
  return series * Oct{power};
}

// expMany eight at a time; a lane outside (-700, 0] (or NaN) is done by the scalar afterwards.
BIOPAY_AVX512F size_t expManyOct(const double* xs, double* out, size_t count) {
  size_t index = 0;
  for (; index + 8 <= count; index += 8) {
    const __m512d x = _mm512_loadu_pd(xs + index);
    const __mmask8 inRange = _mm512_cmp_pd_mask(x, _mm512_set1_pd(kPairExpLowest), _CMP_GT_OQ) & _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LE_OQ);
    _mm512_storeu_pd(out + index, expOct({x}, inRange).v);
    if (inRange == 0xff) continue;
    for (int lane = 0; lane < 8; lane++) {
      if ((inRange >> lane & 1) == 0) out[index + lane] = expNonPositive(xs[index + lane]);
    }
  }
  return index;
}

// erfGivenExp eight at a time, lane by lane the same operations (|x| and the sign exactly).
BIOPAY_AVX512F size_t erfGivenExpOct(const double* xs, const double* exps, double* out, size_t count) {
  size_t index = 0;
  for (; index + 8 <= count; index += 8) {
    const __m512d x = _mm512_loadu_pd(xs + index);
    const __mmask8 negative = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LT_OQ);
    const Oct sign = {_mm512_mask_blend_pd(negative, _mm512_set1_pd(1.0), _mm512_set1_pd(-1.0))};
    const Oct a = {_mm512_abs_pd(x)};
    const Oct t = {_mm512_div_pd(_mm512_set1_pd(1.0), (splat8(1.0) + splat8(0.3275911) * a).v)};
    _mm512_storeu_pd(out + index, (sign * (splat8(1.0) - BIOPAY_ERF_POLY(t, splat8) * Oct{_mm512_loadu_pd(exps + index)})).v);
  }
  return index;
}
#pragma GCC diagnostic pop
#endif

// Whether this CPU runs the eight-wide cylinder code (asked once).
bool cpuHasWideCylinders() {
#if BIOPAY_HAS_WIDE_CYLINDERS
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
#else
  return false;
#endif
}

// out[i] = expNonPositive(xs[i]), eight or two at a time where the platform allows.
void expMany(const double* xs, double* out, size_t count, bool wide) {
  size_t index = 0;
#if BIOPAY_HAS_WIDE_CYLINDERS
  if (wide) index = expManyOct(xs, out, count);
#else
  (void)wide;
#endif
#if defined(__SSE2__)
  for (; index + 1 < count; index += 2) {
    if (pairable(xs[index]) && pairable(xs[index + 1])) {
      _mm_storeu_pd(out + index, expPair({_mm_loadu_pd(xs + index)}).v);
    } else {
      out[index] = expNonPositive(xs[index]);
      out[index + 1] = expNonPositive(xs[index + 1]);
    }
  }
#endif
  for (; index < count; index++) out[index] = expNonPositive(xs[index]);
}

#if defined(__SSE2__)
// erfGivenExp of a pair, lane by lane the same operations (|x| and the sign by bit masks, exactly).
inline Pair erfGivenExpPair(Pair x, Pair expMinusSquare) {
  const __m128d negative = _mm_cmplt_pd(x.v, _mm_setzero_pd());
  const Pair sign = {_mm_or_pd(_mm_and_pd(negative, _mm_set1_pd(-1.0)), _mm_andnot_pd(negative, _mm_set1_pd(1.0)))};
  const Pair a = {_mm_andnot_pd(_mm_set1_pd(-0.0), x.v)};
  const Pair t = {_mm_div_pd(_mm_set1_pd(1.0), (splat(1.0) + splat(0.3275911) * a).v)};
  return sign * (splat(1.0) - BIOPAY_ERF_POLY(t, splat) * expMinusSquare);
}
#endif

// out[i] = erf(xs[i]), its exponentials through expMany (scratch: count doubles each).
void erfMany(const double* xs, double* out, size_t count, double* exponents, double* exps, bool wide) {
  for (size_t index = 0; index < count; index++) {
    const double a = std::fabs(xs[index]);
    exponents[index] = -a * a;
  }
  expMany(exponents, exps, count, wide);
  size_t index = 0;
#if BIOPAY_HAS_WIDE_CYLINDERS
  if (wide) index = erfGivenExpOct(xs, exps, out, count);
#endif
#if defined(__SSE2__)
  for (; index + 1 < count; index += 2) {
    _mm_storeu_pd(out + index, erfGivenExpPair({_mm_loadu_pd(xs + index)}, {_mm_loadu_pd(exps + index)}).v);
  }
#endif
  for (; index < count; index++) out[index] = erfGivenExp(xs[index], exps[index]);
}

inline double distancePx(double dx, double dy) { return std::sqrt(dx * dx + dy * dy); }

// geometry.ts: convexHull (Andrew's monotone chain, counter-clockwise), as flat x, y pairs. The
// sort is stable, as Array.prototype.sort is, so equal points keep their order.
void convexHull(const float* xs, const float* ys, int count, std::vector<int>& order, std::vector<int>& chain, std::vector<double>& hull) {
  order.resize(count);
  for (int index = 0; index < count; index++) order[index] = index;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const double dx = static_cast<double>(xs[a]) - xs[b];
    if (dx != 0) return dx < 0;
    return static_cast<double>(ys[a]) - ys[b] < 0;
  });
  hull.clear();
  if (count < 3) {
    for (int index : order) hull.push_back(xs[index]), hull.push_back(ys[index]);
    return;
  }
  auto cross = [&](int o, int a, int b) {
    return (static_cast<double>(xs[a]) - xs[o]) * (static_cast<double>(ys[b]) - ys[o]) - (static_cast<double>(ys[a]) - ys[o]) * (static_cast<double>(xs[b]) - xs[o]);
  };
  auto build = [&](bool reversed) {
    chain.clear();
    for (int step = 0; step < count; step++) {
      const int index = order[reversed ? count - 1 - step : step];
      while (chain.size() >= 2 && cross(chain[chain.size() - 2], chain[chain.size() - 1], index) <= 0) chain.pop_back();
      chain.push_back(index);
    }
    chain.pop_back();
    for (int index : chain) hull.push_back(xs[index]), hull.push_back(ys[index]);
  };
  build(false);
  build(true);
}

// geometry.ts: prepareHull, nearHull and its helpers.
struct Hull {
  std::vector<double> vertices;
  std::vector<double> normalX, normalY, offsets;
};

void prepareHull(Hull& hull) {
  const size_t count = hull.vertices.size() / 2;
  hull.normalX.assign(count, 0);
  hull.normalY.assign(count, 0);
  hull.offsets.assign(count, 0);
  const std::vector<double>& h = hull.vertices;
  for (size_t v = 0; v < count; v++) {
    const size_t w = (v + 1) % count;
    const double ex = h[2 * w] - h[2 * v];
    const double ey = h[2 * w + 1] - h[2 * v + 1];
    const double length = std::sqrt(ex * ex + ey * ey);
    if (length == 0) continue;
    hull.normalX[v] = ey / length;
    hull.normalY[v] = -ex / length;
    hull.offsets[v] = hull.normalX[v] * h[2 * v] + hull.normalY[v] * h[2 * v + 1];
  }
}

double segmentDistance(double px, double py, double ax, double ay, double bx, double by) {
  const double dx = bx - ax;
  const double dy = by - ay;
  const double lengthSquared = dx * dx + dy * dy;
  const double t = lengthSquared == 0 ? 0 : std::max(0.0, std::min(1.0, ((px - ax) * dx + (py - ay) * dy) / lengthSquared));
  const double ex = px - (ax + t * dx);
  const double ey = py - (ay + t * dy);
  return std::sqrt(ex * ex + ey * ey);
}

bool withinMarginOfFacingEdges(const Hull& hull, double px, double py, double marginPx) {
  const std::vector<double>& points = hull.vertices;
  const size_t vertices = points.size() / 2;
  for (size_t v = 0; v < vertices; v++) {
    if (hull.normalX[v] * px + hull.normalY[v] * py - hull.offsets[v] <= -kHullSlackPx) continue;
    const size_t w = v + 1 == vertices ? 0 : v + 1;
    if (segmentDistance(px, py, points[2 * v], points[2 * v + 1], points[2 * w], points[2 * w + 1]) <= marginPx) return true;
  }
  return false;
}

bool insideHull(const std::vector<double>& hull, double px, double py) {
  const size_t vertices = hull.size() / 2;
  for (size_t v = 0; v < vertices; v++) {
    const size_t w = v + 1 == vertices ? 0 : v + 1;
    if ((hull[2 * w] - hull[2 * v]) * (py - hull[2 * v + 1]) - (hull[2 * w + 1] - hull[2 * v + 1]) * (px - hull[2 * v]) < 0) return false;
  }
  return true;
}

bool nearHull(const Hull& hull, double px, double py, double marginPx) {
  const size_t vertices = hull.vertices.size() / 2;
  if (vertices == 0) return false;
  const double beyondPx = marginPx + kHullSlackPx;
  double farthest = -INFINITY;
  for (size_t v = 0; v < vertices; v++) {
    const double distance = hull.normalX[v] * px + hull.normalY[v] * py - hull.offsets[v];
    // The farthest can only grow: past the margin the answer is already no.
    if (distance > beyondPx) return false;
    if (distance > farthest) farthest = distance;
  }
  if (vertices >= 3 && (farthest <= -kHullSlackPx || (farthest <= kHullSlackPx && insideHull(hull.vertices, px, py)))) return true;
  return withinMarginOfFacingEdges(hull, px, py, marginPx);
}

// cylinder.ts: cellGrid, the cells within the radius.
struct Grid {
  std::vector<double> us, vs;
  std::vector<int> firstBits;
  std::vector<int> cellAt;
  // What the grid was built for: it depends on nothing else, so it is rebuilt only when they change.
  int spatialCells = 0;
  int directionCells = 0;
  double radiusPx = 0;
};

void cellGrid(const Settings& s, Grid& grid) {
  if (grid.spatialCells == s.spatialCells && grid.directionCells == s.directionCells && grid.radiusPx == s.radiusPx) return;
  grid.spatialCells = s.spatialCells;
  grid.directionCells = s.directionCells;
  grid.radiusPx = s.radiusPx;
  const int ns = s.spatialCells;
  const double cellPx = (2 * s.radiusPx) / ns;
  grid.us.clear();
  grid.vs.clear();
  grid.firstBits.clear();
  grid.cellAt.assign(static_cast<size_t>(ns) * ns, -1);
  for (int i = 0; i < ns; i++) {
    for (int j = 0; j < ns; j++) {
      const double u = (i - (ns - 1) / 2.0) * cellPx;
      const double v = (j - (ns - 1) / 2.0) * cellPx;
      if (distancePx(u, v) > s.radiusPx) continue;
      grid.cellAt[i * ns + j] = static_cast<int>(grid.us.size());
      grid.us.push_back(u);
      grid.vs.push_back(v);
      grid.firstBits.push_back((i * ns + j) * s.directionCells);
    }
  }
}

// Per-thread working memory, grown to the largest template seen: no allocation per call after that.
struct Scratch {
  Grid grid;
  Hull hull;
  std::vector<int> order, chain;
  std::vector<int> neighbours;
  std::vector<double> directions, px, py, sums;
  std::vector<uint8_t> onFinger;
  // One minutia's exponentials, gathered to be computed in pairs: erf arguments and results, and
  // the spatial terms (the cell and neighbour of each, its exponent, then its e^x).
  std::vector<double> erfArguments, erfValues, exponents, exps;
  std::vector<int> termCells, termNeighbours;
  // This call's choice: the eight-wide code (AVX-512F, when the CPU has it and the caller allows).
  bool wide = false;
};

int nearNeighbours(const float* xs, const float* ys, int count, int m, double reachPx, std::vector<int>& out) {
  int near = 0;
  for (int t = 0; t < count; t++) {
    if (t != m && distancePx(static_cast<double>(xs[t]) - xs[m], static_cast<double>(ys[t]) - ys[m]) <= reachPx) out[near++] = t;
  }
  return near;
}

int countWithin(const float* xs, const float* ys, int m, const std::vector<int>& neighbours, int near, double reachPx) {
  int within = 0;
  for (int n = 0; n < near; n++) {
    const int t = neighbours[n];
    if (distancePx(static_cast<double>(xs[t]) - xs[m], static_cast<double>(ys[t]) - ys[m]) <= reachPx) within++;
  }
  return within;
}

// Grows every per-minutia term buffer together (they are all sized by the same count), doubling.
void growTerms(Scratch& k, size_t needed) {
  const size_t size = std::max(needed, 2 * k.exps.size());
  for (std::vector<double>* buffer : {&k.erfArguments, &k.erfValues, &k.exponents, &k.exps}) buffer->resize(size);
  k.termCells.resize(size);
  k.termNeighbours.resize(size);
}

// cylinder.ts: directionContribution for every neighbour of minutia m and every direction cell,
// into k.directions: 0.5 * (erf((alpha + halfCell) / scale) - erf((alpha - halfCell) / scale)).
void directionContributions(const float* thetas, int m, int near, const Settings& s, Scratch& k) {
  const int nd = s.directionCells;
  const double halfCell = kPi / nd;
  const double scale = s.sigmaDirectionRad * kSqrt2;
  const size_t count = static_cast<size_t>(near) * nd * 2;
  if (k.exps.size() < count) growTerms(k, count);
  for (int n = 0; n < near; n++) {
    const double relative = angleDiff(thetas[m], thetas[k.neighbours[n]]);
    for (int d = 0; d < nd; d++) {
      const double cellAngle = -kPi + (d + 0.5) * ((2 * kPi) / nd);
      const double alpha = angleDiff(cellAngle, relative);
      const size_t at = (static_cast<size_t>(n) * nd + d) * 2;
      k.erfArguments[at] = (alpha + halfCell) / scale;
      k.erfArguments[at + 1] = (alpha - halfCell) / scale;
    }
  }
  erfMany(k.erfArguments.data(), k.erfValues.data(), count, k.exponents.data(), k.exps.data(), k.wide);
  for (size_t cell = 0; cell < count / 2; cell++) k.directions[cell] = 0.5 * (k.erfValues[2 * cell] - k.erfValues[2 * cell + 1]);
}

struct Frame {
  double x, y, cos, sin;
};

#if BIOPAY_HAS_WIDE_CYLINDERS
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// placeCells eight cells at a time, up to the last whole eight (returns where it stopped): the
// positions with the scalar's operations, then nearHull's signed distances to every edge, their
// maximum and whether any passed the margin, for eight cells at once. A cell the distances alone
// do not decide (near an edge) takes nearHull's remaining tests, as the scalar does.
BIOPAY_AVX512F size_t placeCellsOct(const Frame& f, const Settings& s, Scratch& k, int* onFinger) {
  const size_t cells = k.grid.us.size();
  const Hull& hull = k.hull;
  const size_t vertices = hull.vertices.size() / 2;
  const double beyondPx = s.hullMarginPx + kHullSlackPx;
  size_t cell = 0;
  for (; cell + 8 <= cells; cell += 8) {
    const __m512d u = _mm512_loadu_pd(k.grid.us.data() + cell);
    const __m512d v = _mm512_loadu_pd(k.grid.vs.data() + cell);
    const __m512d px = _mm512_sub_pd(_mm512_add_pd(_mm512_set1_pd(f.x), _mm512_mul_pd(_mm512_set1_pd(f.cos), u)), _mm512_mul_pd(_mm512_set1_pd(f.sin), v));
    const __m512d py = _mm512_add_pd(_mm512_add_pd(_mm512_set1_pd(f.y), _mm512_mul_pd(_mm512_set1_pd(f.sin), u)), _mm512_mul_pd(_mm512_set1_pd(f.cos), v));
    _mm512_storeu_pd(k.px.data() + cell, px);
    _mm512_storeu_pd(k.py.data() + cell, py);
    __m512d farthest = _mm512_set1_pd(-INFINITY);
    __mmask8 beyond = 0;
    for (size_t e = 0; e < vertices; e++) {
      const __m512d distance = _mm512_sub_pd(
          _mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(hull.normalX[e]), px), _mm512_mul_pd(_mm512_set1_pd(hull.normalY[e]), py)), _mm512_set1_pd(hull.offsets[e]));
      beyond |= _mm512_cmp_pd_mask(distance, _mm512_set1_pd(beyondPx), _CMP_GT_OQ);
      // max(distance, farthest) keeps farthest when distance is NaN or equal, as the scalar's test.
      farthest = _mm512_max_pd(distance, farthest);
    }
    // Decided by the distances: past the margin is off, well inside is on (a hull of 3 or more
    // vertices); the rest, near an edge, take nearHull's remaining tests one by one. Nothing just
    // stored is read back (a narrow load of a wide store waits until the store reaches the cache).
    const __mmask8 inside = vertices >= 3 ? static_cast<__mmask8>(_mm512_cmp_pd_mask(farthest, _mm512_set1_pd(-kHullSlackPx), _CMP_LE_OQ) & ~beyond) : 0;
    const __mmask8 open = vertices > 0 ? static_cast<__mmask8>(~beyond & ~inside) : 0;
    const __mmask8 withinSlack = _mm512_cmp_pd_mask(farthest, _mm512_set1_pd(kHullSlackPx), _CMP_LE_OQ);
    __mmask8 on = inside;
    if (open != 0) {
      // The helpers below are SSE2 code: with the upper halves of the vector registers dirty, each
      // of their instructions would wait on them (the 512-bit state is cleared first).
      _mm256_zeroupper();
      for (int lane = 0; lane < 8; lane++) {
        if ((open >> lane & 1) == 0) continue;
        // The lane's position again in scalar steps (the same operations, so the same bits).
        const double u = k.grid.us[cell + lane];
        const double v = k.grid.vs[cell + lane];
        const double x = f.x + f.cos * u - f.sin * v;
        const double y = f.y + f.sin * u + f.cos * v;
        const bool near = (vertices >= 3 && (withinSlack >> lane & 1) != 0 && insideHull(hull.vertices, x, y)) || withinMarginOfFacingEdges(hull, x, y, s.hullMarginPx);
        if (near) on = static_cast<__mmask8>(on | (1u << lane));
      }
    }
    for (int lane = 0; lane < 8; lane++) k.onFinger[cell + lane] = static_cast<uint8_t>(on >> lane & 1);
    *onFinger += __builtin_popcount(on);
  }
  return cell;
}
#pragma GCC diagnostic pop
#endif

int placeCells(const Frame& f, const Settings& s, Scratch& k) {
  int onFinger = 0;
  const size_t cells = k.grid.us.size();
  size_t first = 0;
#if BIOPAY_HAS_WIDE_CYLINDERS
  if (k.wide) first = placeCellsOct(f, s, k, &onFinger);
#endif
  for (size_t cell = first; cell < cells; cell++) {
    const double u = k.grid.us[cell];
    const double v = k.grid.vs[cell];
    const double px = f.x + f.cos * u - f.sin * v;
    const double py = f.y + f.sin * u + f.cos * v;
    k.px[cell] = px;
    k.py[cell] = py;
    const bool on = nearHull(k.hull, px, py, s.hullMarginPx);
    k.onFinger[cell] = on ? 1 : 0;
    if (on) onFinger++;
  }
  return onFinger;
}

// A cell's bits (at most 32, from bit `first` of the cylinder) ORed into the words they fall in.
inline void placeBits(uint64_t mask, int first, uint32_t* cylinder) {
  const uint64_t placed = mask << (first & 31);
  cylinder[first >> 5] |= static_cast<uint32_t>(placed);
  if ((placed >> 32) != 0) cylinder[(first >> 5) + 1] |= static_cast<uint32_t>(placed >> 32);
}

#if BIOPAY_HAS_WIDE_CYLINDERS
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// The sums of accumulateNeighbours for nd <= 8 direction cells: a term's nd products and
// additions in the lanes of one vector, each lane the scalar's multiply then add, terms in order.
BIOPAY_AVX512F void addTermsOct(Scratch& k, size_t terms, int nd, double spatialNorm) {
  const __mmask8 lanes = static_cast<__mmask8>((1u << nd) - 1);
  double* sums = k.sums.data();
  const double* directions = k.directions.data();
  for (size_t term = 0; term < terms; term++) {
    const __m512d spatial = _mm512_set1_pd(spatialNorm * k.exps[term]);
    double* cellSums = sums + static_cast<size_t>(k.termCells[term]) * nd;
    const __m512d products = _mm512_mul_pd(spatial, _mm512_maskz_loadu_pd(lanes, directions + static_cast<size_t>(k.termNeighbours[term]) * nd));
    _mm512_mask_storeu_pd(cellSums, lanes, _mm512_add_pd(_mm512_maskz_loadu_pd(lanes, cellSums), products));
  }
}

// cellBits for nd <= 8: a cell's mask from one compare of its sums with the threshold.
BIOPAY_AVX512F void cellBitsOct(const Scratch& k, int nd, double bitThreshold, uint32_t* cylinder) {
  const __mmask8 lanes = static_cast<__mmask8>((1u << nd) - 1);
  const __m512d threshold = _mm512_set1_pd(bitThreshold);
  const size_t cells = k.grid.us.size();
  for (size_t cell = 0; cell < cells; cell++) {
    if (k.onFinger[cell] == 0) continue;
    const uint64_t mask = _mm512_mask_cmp_pd_mask(lanes, _mm512_maskz_loadu_pd(lanes, k.sums.data() + cell * nd), threshold, _CMP_GT_OQ);
    if (mask == 0) continue;
    placeBits(mask, k.grid.firstBits[cell], cylinder);
  }
}
#pragma GCC diagnostic pop
#endif

void accumulateNeighbours(const float* xs, const float* ys, const Frame& f, int near, const Settings& s, Scratch& k) {
  const int nd = s.directionCells;
  const int ns = s.spatialCells;
  const double cellPx = (2 * s.radiusPx) / ns;
  const double centre = (ns - 1) / 2.0;
  const double reachPx = 3 * s.sigmaSpatialPx;
  const double boundCells = (reachPx + 1e-6) / cellPx;
  const double reachSquared = reachPx * reachPx;
  const double spatialNorm = 1 / (s.sigmaSpatialPx * std::sqrt(2 * kPi));
  const double twoSigmaSquared = 2 * s.sigmaSpatialPx * s.sigmaSpatialPx;
  size_t terms = 0;
  for (int n = 0; n < near; n++) {
    const int t = k.neighbours[n];
    const double ox = static_cast<double>(xs[t]) - f.x;
    const double oy = static_cast<double>(ys[t]) - f.y;
    const double along = (f.cos * ox + f.sin * oy) / cellPx + centre;
    const double across = (f.cos * oy - f.sin * ox) / cellPx + centre;
    // Bounds as doubles first: outside the grid (or NaN) the neighbour reaches no cell, and only
    // bounds inside it are converted to int.
    const double iFromRow = std::max(0.0, std::ceil(along - boundCells));
    const double iToRow = std::min(static_cast<double>(ns - 1), std::floor(along + boundCells));
    const double jFromColumn = std::max(0.0, std::ceil(across - boundCells));
    const double jToColumn = std::min(static_cast<double>(ns - 1), std::floor(across + boundCells));
    if (!(iFromRow <= iToRow) || !(jFromColumn <= jToColumn)) continue;
    const int iFrom = static_cast<int>(iFromRow);
    const int iTo = static_cast<int>(iToRow);
    const int jFrom = static_cast<int>(jFromColumn);
    const int jTo = static_cast<int>(jToColumn);
    const size_t window = static_cast<size_t>(iTo - iFrom + 1) * static_cast<size_t>(jTo - jFrom + 1);
    if (k.exps.size() < terms + window) growTerms(k, terms + window);
    for (int i = iFrom; i <= iTo; i++) {
      for (int j = jFrom; j <= jTo; j++) {
        const int cell = k.grid.cellAt[i * ns + j];
        if (cell < 0 || k.onFinger[cell] == 0) continue;
        const double dx = static_cast<double>(xs[t]) - k.px[cell];
        const double dy = static_cast<double>(ys[t]) - k.py[cell];
        const double squared = dx * dx + dy * dy;
        if (squared > reachSquared) continue;
        k.termCells[terms] = cell;
        k.termNeighbours[terms] = n;
        k.exponents[terms++] = -squared / twoSigmaSquared;
      }
    }
  }
  // The exponentials in pairs, then the sums in the order the terms were found (neighbour by
  // neighbour, row by row): the same additions in the same order as one term at a time.
  expMany(k.exponents.data(), k.exps.data(), terms, k.wide);
#if BIOPAY_HAS_WIDE_CYLINDERS
  if (k.wide && nd <= 8) return addTermsOct(k, terms, nd, spatialNorm);
#endif
  for (size_t term = 0; term < terms; term++) {
    const double spatial = spatialNorm * k.exps[term];
    const int cell = k.termCells[term];
    const int n = k.termNeighbours[term];
    for (int d = 0; d < nd; d++) k.sums[cell * nd + d] += spatial * k.directions[n * nd + d];
  }
}

// Each on-finger cell's bits into its cylinder: a cell's nd bits are consecutive, so they are
// gathered into one mask without a branch (about one bit in ten is set, a branch on each would be
// mispredicted often) and written to the one or two words they fall in.
void cellBits(const Scratch& k, int nd, double bitThreshold, uint32_t* cylinder) {
#if BIOPAY_HAS_WIDE_CYLINDERS
  if (k.wide && nd <= 8) return cellBitsOct(k, nd, bitThreshold, cylinder);
#endif
  const size_t cells = k.grid.us.size();
  for (size_t cell = 0; cell < cells; cell++) {
    if (k.onFinger[cell] == 0) continue;
    const double* sums = k.sums.data() + cell * nd;
    uint64_t mask = 0;
    for (int d = 0; d < nd; d++) mask |= static_cast<uint64_t>(sums[d] > bitThreshold) << d;
    if (mask != 0) placeBits(mask, k.grid.firstBits[cell], cylinder);
  }
}

// cylinder.ts: buildCylinders, minutia by minutia.
void build(const float* xs, const float* ys, const float* thetas, const double* frames, int count, const Settings& s, bool allowWide, uint32_t* bits, uint8_t* usable) {
  Scratch& k = threadScratch<Scratch>();
  k.wide = allowWide && cpuHasWideCylinders();
  const int nd = s.directionCells;
  cellGrid(s, k.grid);
  const size_t cells = k.grid.us.size();
  const double reachPx = 3 * s.sigmaSpatialPx;
  convexHull(xs, ys, count, k.order, k.chain, k.hull.vertices);
  prepareHull(k.hull);
  k.neighbours.resize(count);
  k.directions.resize(static_cast<size_t>(count) * nd);
  k.px.resize(cells);
  k.py.resize(cells);
  k.onFinger.resize(cells);
  k.sums.resize(cells * nd);
  std::memset(bits, 0, sizeof(uint32_t) * static_cast<size_t>(count) * s.words);
  for (int m = 0; m < count; m++) {
    const Frame f = {xs[m], ys[m], frames[2 * m], frames[2 * m + 1]};
    const int near = nearNeighbours(xs, ys, count, m, s.radiusPx + reachPx + 1, k.neighbours);
    directionContributions(thetas, m, near, s, k);
    const int validCells = placeCells(f, s, k);
    std::fill(k.sums.begin(), k.sums.end(), 0.0);
    accumulateNeighbours(xs, ys, f, near, s, k);
    cellBits(k, nd, s.bitThreshold, bits + static_cast<size_t>(m) * s.words);
    const bool enoughCells = validCells >= s.minValidCellShare * static_cast<double>(cells);
    const bool enoughNeighbours = countWithin(xs, ys, m, k.neighbours, near, s.radiusPx + reachPx) >= s.minNeighbours;
    usable[m] = enoughCells && enoughNeighbours ? 1 : 0;
  }
}

bool validSettings(const double* raw, Settings* s) {
  if (!allFinite(raw, kSettingCount)) return false;
  s->radiusPx = raw[0];
  s->sigmaSpatialPx = raw[3];
  s->sigmaDirectionRad = raw[4];
  s->bitThreshold = raw[5];
  s->hullMarginPx = raw[6];
  s->minValidCellShare = raw[7];
  s->minNeighbours = raw[8];
  if (!integerSetting(raw[1], 1, kMaxCellsPerSide, &s->spatialCells) || !integerSetting(raw[2], 1, kMaxDirectionCells, &s->directionCells) ||
      !integerSetting(raw[9], 1, 1 << 12, &s->words)) {
    return false;
  }
  const int bitsPerCylinder = s->spatialCells * s->spatialCells * s->directionCells;
  return s->words == (bitsPerCylinder + 31) / 32 && s->radiusPx > 0 && s->sigmaSpatialPx > 0 && s->sigmaDirectionRad > 0;
}

}  // namespace

// buildCylinders(xs, ys, thetas, frames, count, settings, bits, usable, allowWide = true): the
// cylinders of `count` minutiae (xs, ys, thetas Float32Arrays; frames their Math.cos and Math.sin,
// interleaved, a Float64Array) into bits (count * words, a Uint32Array) and usable (a Uint8Array).
// allowWide false keeps the two-wide code on any CPU (tests compare the two).
// settings: [radiusPx, spatialCells, directionCells, sigmaSpatialPx, sigmaDirectionRad,
// bitThreshold, hullMarginPx, minValidCellShare, minNeighbours, words].
napi_value BuildCylinders(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  bool allowWide = true;
  if (!argumentsAndFlag(env, info, 8, argv, &allowWide, "buildCylinders(xs, ys, thetas, frames, count, settings, bits, usable, allowWide?)", "allowWide must be a boolean")) return nullptr;
  float* xs = nullptr;
  float* ys = nullptr;
  float* thetas = nullptr;
  double* frames = nullptr;
  double* raw = nullptr;
  uint32_t* bits = nullptr;
  uint8_t* usable = nullptr;
  size_t xsLength = 0, ysLength = 0, thetasLength = 0, framesLength = 0, settingsLength = 0, bitsLength = 0, usableLength = 0;
  int64_t count = 0;
  if (!typedArray(env, argv[0], napi_float32_array, &xs, &xsLength, "xs must be a Float32Array")) return nullptr;
  if (!typedArray(env, argv[1], napi_float32_array, &ys, &ysLength, "ys must be a Float32Array")) return nullptr;
  if (!typedArray(env, argv[2], napi_float32_array, &thetas, &thetasLength, "thetas must be a Float32Array")) return nullptr;
  if (!typedArray(env, argv[3], napi_float64_array, &frames, &framesLength, "frames must be a Float64Array")) return nullptr;
  if (!integerArgument(env, argv[4], &count, "BAD_REQUEST", "count must be an integer")) return nullptr;
  if (!typedArray(env, argv[5], napi_float64_array, &raw, &settingsLength, "settings must be a Float64Array")) return nullptr;
  if (!typedArray(env, argv[6], napi_uint32_array, &bits, &bitsLength, "bits must be a Uint32Array")) return nullptr;
  if (!typedArray(env, argv[7], napi_uint8_array, &usable, &usableLength, "usable must be a Uint8Array")) return nullptr;
  Settings s;
  if (settingsLength < kSettingCount || !validSettings(raw, &s)) return fail(env, "BAD_REQUEST", "cylinder settings are not valid");
  const uint64_t n = static_cast<uint64_t>(count);
  if (count < 0 || count > kMaxMinutiae || xsLength < n || ysLength < n || thetasLength < n || framesLength < 2 * n || usableLength < n ||
      bitsLength < n * static_cast<uint64_t>(s.words)) {
    return fail(env, "BAD_REQUEST", "count is negative, too large, or longer than an array");
  }
  for (uint64_t index = 0; index < n; index++) {
    if (!(std::fabs(xs[index]) <= kMaxCoordinatePx) || !(std::fabs(ys[index]) <= kMaxCoordinatePx) || !(std::fabs(thetas[index]) <= kMaxDirectionRad) ||
        !std::isfinite(frames[2 * index]) || !std::isfinite(frames[2 * index + 1])) {
      return fail(env, "BAD_REQUEST", "minutia coordinates must be finite pixels (at most 1e6), directions within 8 pi, frames finite");
    }
  }
  build(xs, ys, thetas, frames, static_cast<int>(count), s, allowWide, bits, usable);
  return nullptr;
}

// expNonPositiveMany(xs, out, allowWide = true): out[i] = expNonPositive(xs[i]) as the cylinders
// compute it (eight or two at a time); erfMany(xs, out, allowWide = true) the same for erf. Float64Arrays
// of at least xs's length for out. For tests: the lanes must give the scalar's bits exactly.
static napi_value mathMany(napi_env env, napi_callback_info info, bool erf) {
  napi_value argv[3];
  bool allowWide = true;
  const char* usage = erf ? "erfMany(xs, out, allowWide?)" : "expNonPositiveMany(xs, out, allowWide?)";
  if (!argumentsAndFlag(env, info, 2, argv, &allowWide, usage, "allowWide must be a boolean")) return nullptr;
  double* xs = nullptr;
  double* out = nullptr;
  size_t xsLength = 0, outLength = 0;
  if (!typedArray(env, argv[0], napi_float64_array, &xs, &xsLength, "xs must be a Float64Array")) return nullptr;
  if (!typedArray(env, argv[1], napi_float64_array, &out, &outLength, "out must be a Float64Array")) return nullptr;
  if (outLength < xsLength) return fail(env, "BAD_REQUEST", "out is shorter than xs");
  const bool wide = allowWide && cpuHasWideCylinders();
  if (!erf) {
    expMany(xs, out, xsLength, wide);
    return nullptr;
  }
  std::vector<double> exponents(xsLength), exps(xsLength);
  erfMany(xs, out, xsLength, exponents.data(), exps.data(), wide);
  return nullptr;
}

napi_value ExpNonPositiveMany(napi_env env, napi_callback_info info) { return mathMany(env, info, false); }
napi_value ErfMany(napi_env env, napi_callback_info info) { return mathMany(env, info, true); }

}  // namespace biopay::cylinders
