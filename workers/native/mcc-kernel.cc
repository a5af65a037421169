// The MCC one-to-one comparison kernel (core/biometrics/mcc-matcher.ts) in C++ for Node-API.
//
// It must give the JavaScript kernel's scores bit for bit, so it repeats its arithmetic in the
// same order with IEEE doubles: no FMA contraction (-ffp-contract=off), no fast-math, float
// template fields promoted to double, JavaScript's ToInt32 for every `| 0`, and the sorts and
// loops that sum or choose visited in the same order. The local stage writes the same set of keys
// in another order, which nothing downstream can see (directionWindow says why). The sigmoid
// tables and the distance bound come from JavaScript, so both kernels read the same numbers.
//
// Every template extent is checked against its array before it is read: a bad base or minutia
// count throws a JavaScript error (code INVALID_TEMPLATE), never reads out of bounds.

#include <node_api.h>

#include "cylinder-kernel.h"
#include "js-math.h"
#include "napi-args.h"
#include "thread-scratch.h"
#include "triplet-keys.h"

#include <cmath>
#include <memory>
#include <new>
#include <vector>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// The eight-wide local stage is compiled for AVX-512 (F, VL, DQ, VPOPCNTDQ) whatever the build's
// target, and chosen at run time only on a CPU that has those instructions.
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BIOPAY_HAS_AVX512_KERNEL 1
#define BIOPAY_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512vpopcntdq")))
#else
#define BIOPAY_HAS_AVX512_KERNEL 0
#endif

namespace {

using namespace biopay::js;
using namespace biopay::napi;

constexpr int kTableSize = 1024;
constexpr int kBuckets = 256;
constexpr uint32_t kHeaderWords = 2;
constexpr int kParamCount = 10;
// Keys hold minutia indices in 8 bits each.
constexpr int kMaxMinutiaeLimit = 256;
constexpr int kMaxWords = 64;

const napi_type_tag kKernelTag = {0x6d63636b65726e31ULL, 0x62696f7061792d31ULL};

// ECMA-262 ToInt32, what `x | 0` and `x << n` do to a double.
inline int32_t jsInt32(double value) {
  if (value > -2147483649.0 && value < 2147483648.0) return static_cast<int32_t>(value);
  if (!std::isfinite(value)) return 0;
  double rest = std::fmod(std::trunc(value), 4294967296.0);
  if (rest < 0) rest += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(rest));
}

inline double wrap(double d) {
  if (d >= kPi) return d - kTwoPi;
  if (d < -kPi) return d + kTwoPi;
  return d;
}

inline double fastAtan2(double y, double x) {
  const double ax = std::fabs(x);
  const double ay = std::fabs(y);
  if (ax == 0 && ay == 0) return 0;
  const bool swap = ay > ax;
  const double z = swap ? ax / ay : ay / ax;
  double angle = z * (kPi / 4 + 0.273 * (1 - z));
  if (swap) angle = kPi / 2 - angle;
  if (x < 0) angle = kPi - angle;
  return y < 0 ? -angle : angle;
}

// A JavaScript typed-array read past the end gives undefined, NaN in arithmetic; a negative
// index too.
inline double tableAt(const double* values, int32_t index) {
  if (index < 0) return NAN;
  return index < kTableSize ? values[index] : 0;
}

inline uint32_t popcount32(uint32_t v) { return static_cast<uint32_t>(__builtin_popcount(v)); }

inline uint64_t load64(const uint32_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

struct Params {
  int words;
  int maxMinutiae;
  double maxDirectionDiff;
  double minLocalSimilarity;
  int maxRelaxPairs;
  int relaxIterations;
  double relaxWeight;
  double distanceScale;
  double angleScale;
  double rejectSquared;
};

// One template inside a word array (core/biometrics/template.ts layout).
struct View {
  uint32_t n;
  const float* x;
  const float* y;
  const float* theta;
  const float* norm;
  const uint32_t* bits;
};

// Parameters, tables and scratch of one MccMatcher, in one allocation.
struct Kernel {
  Params p;
  int pairCapacity;
  int topCapacity;
  uint32_t stamp;
  // The highest bucket holding a key of the current comparison (-1: none).
  int topBucket;
  double distanceValues[kTableSize + 1];
  double angleValues[kTableSize + 1];
  double sqrtTable[32 * kMaxWords + 1];
  int32_t heads[kBuckets];
  int32_t* pairsWanted;
  uint32_t* keys;
  int32_t* next;
  uint32_t* run;
  uint32_t* usedA;
  uint32_t* usedB;
  // Whether localSimilarities runs eight pairs at a time (AVX-512, see localRangeAvx512).
  bool avx512;
  double *pairXa, *pairYa, *pairTa, *pairXb, *pairYb, *pairTb, *pairTurn;
  double *lambda0, *lambda, *lambdaNext;
  int32_t* rowLength;
  int32_t* connected;
  int32_t* entryColumn;
  double* entryValue;
  double* topEfficiency;
  double* topLambda;
};

template <typename T>
T* carve(char*& cursor, size_t count) {
  T* at = reinterpret_cast<T*>(cursor);
  cursor += (count * sizeof(T) + 63) & ~static_cast<size_t>(63);
  return at;
}

// Whether this CPU (and its operating system) runs localRangeAvx512.
bool cpuHasAvx512Kernel() {
#if BIOPAY_HAS_AVX512_KERNEL
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vpopcntdq");
#else
  return false;
#endif
}

Kernel* newKernel(const Params& p, const double* distanceValues, const double* angleValues, const int32_t* pairsWanted, bool allowAvx512) {
  const size_t m = static_cast<size_t>(p.maxMinutiae);
  const int pairCapacity = p.maxRelaxPairs < p.maxMinutiae ? p.maxRelaxPairs : p.maxMinutiae;
  int topCapacity = 1;
  for (size_t n = 0; n <= m; n++) topCapacity = pairsWanted[n] > topCapacity ? pairsWanted[n] : topCapacity;
  const size_t pc = static_cast<size_t>(pairCapacity > 0 ? pairCapacity : 1);
  const size_t tc = static_cast<size_t>(topCapacity);
  const size_t bytes = 64 * 40 + sizeof(Kernel) + (m + 1) * 4 + m * m * 12 + m * 16 + pc * 96 + pc * pc * 12 + tc * 16;
  char* block = static_cast<char*>(std::calloc(1, bytes));
  if (block == nullptr) return nullptr;
  char* cursor = block;
  Kernel* k = carve<Kernel>(cursor, 1);
  k->p = p;
  k->avx512 = allowAvx512 && p.words == 8 && cpuHasAvx512Kernel();
  k->pairCapacity = pairCapacity;
  k->topCapacity = topCapacity;
  std::memcpy(k->distanceValues, distanceValues, sizeof k->distanceValues);
  std::memcpy(k->angleValues, angleValues, sizeof k->angleValues);
  for (int d = 0; d <= 32 * kMaxWords; d++) k->sqrtTable[d] = std::sqrt(static_cast<double>(d));
  k->pairsWanted = carve<int32_t>(cursor, m + 1);
  std::memcpy(k->pairsWanted, pairsWanted, (m + 1) * sizeof(int32_t));
  k->keys = carve<uint32_t>(cursor, m * m);
  k->next = carve<int32_t>(cursor, m * m);
  k->run = carve<uint32_t>(cursor, m * m);
  k->usedA = carve<uint32_t>(cursor, m);
  k->usedB = carve<uint32_t>(cursor, m);
  for (int bucket = 0; bucket < kBuckets; bucket++) k->heads[bucket] = -1;
  k->topBucket = -1;
  double** pairArrays[] = {&k->pairXa, &k->pairYa, &k->pairTa, &k->pairXb, &k->pairYb, &k->pairTb, &k->pairTurn, &k->lambda0, &k->lambda, &k->lambdaNext};
  for (double** array : pairArrays) *array = carve<double>(cursor, pc);
  k->rowLength = carve<int32_t>(cursor, pc);
  k->connected = carve<int32_t>(cursor, pc);
  k->entryColumn = carve<int32_t>(cursor, pc * pc);
  k->entryValue = carve<double>(cursor, pc * pc);
  k->topEfficiency = carve<double>(cursor, tc);
  k->topLambda = carve<double>(cursor, tc);
  return k;
}

// MccMatcher.withinDirection. fabs where JavaScript negates below 0: they differ only on the sign
// of a zero or a NaN, which neither the fold nor the comparison sees.
inline bool withinDirection(double thetaA, double thetaB, double maxDiff) {
  double d = std::fabs(thetaA - thetaB);
  d = d > kPi ? kTwoPi - d : d;
  return d <= maxDiff;
}

// popcount(a xor b) over one cylinder.
inline int32_t difference(const uint32_t* aBits, const uint32_t* bBits, int words) {
  if (words == 8) {
    return __builtin_popcountll(load64(aBits) ^ load64(bBits)) + __builtin_popcountll(load64(aBits + 2) ^ load64(bBits + 2)) +
           __builtin_popcountll(load64(aBits + 4) ^ load64(bBits + 4)) + __builtin_popcountll(load64(aBits + 6) ^ load64(bBits + 6));
  }
  uint32_t sum = 0;
  for (int w = 0; w < words; w++) sum += popcount32(aBits[w] ^ bBits[w]);
  return static_cast<int32_t>(sum);
}

// The keys (similarity << 16 | i << 8 | j) of the pairs passing MccMatcher.localPair's tests, in
// ascending (i, j) order. Every pair is written and the count advanced only when it passes:
// whether a pair passes is a coin toss to the branch predictor, and a mispredicted branch waits
// for the division.
struct KeyWriter {
  uint32_t* keys;
  double minSim;
  int count;

  inline void add(double norms, double similarity, uint32_t high, uint32_t j) {
    // Written as JavaScript tests it: a NaN similarity passes.
    const bool passes = norms != 0 && !(similarity <= minSim);
    // A refused pair's key is never read: scaling 0 keeps jsInt32 on its fast path.
    const uint32_t scaled = static_cast<uint32_t>(jsInt32((passes ? similarity : 0.0) * 0xffff));
    keys[count] = (scaled << 16) | high | j;
    count += passes ? 1 : 0;
  }
};

// Chains the keys per bucket (top 8 bits) in the order they were written, as JavaScript does.
void chainKeys(Kernel* k, int count) {
  // Every bucket emptied at once (1 KiB): cheaper than tracking, key by key, which were used.
  std::memset(k->heads, 0xff, kBuckets * sizeof(int32_t));
  const uint32_t* keys = k->keys;
  int32_t* next = k->next;
  int32_t* heads = k->heads;
  for (int index = 0; index < count; index++) {
    const int bucket = static_cast<int>(keys[index] >> 24);
    next[index] = heads[bucket];
    heads[bucket] = index;
  }
}

// The run of b's minutiae within the direction limit of a's minutia at thetaA, as
// MccMatcher.localSimilarities walks it: outwards from c (b's first minutia at or above thetaA;
// directions ascending) while the limit holds, nB at most. The walk stops at the first minutia
// outside the limit on each side, so the run is one circular interval of b's indices: `first`,
// `length`. JavaScript visits it in another order; the keys are the same set, and selectPairs
// orders every bucket by minutia indices, so the order they are written in is never seen.
struct Window {
  int first;
  int length;
};

inline Window directionWindow(const View& b, int c, double thetaA, double maxDiff) {
  const int nB = static_cast<int>(b.n);
  const int start = c == nB ? 0 : c;
  int forward = 0;
  for (int j = start; forward < nB && withinDirection(thetaA, b.theta[j], maxDiff); j = j + 1 == nB ? 0 : j + 1) forward++;
  int backward = 0;
  for (int j = start == 0 ? nB - 1 : start - 1; forward + backward < nB && withinDirection(thetaA, b.theta[j], maxDiff); j = j == 0 ? nB - 1 : j - 1) backward++;
  const int first = start - backward;
  return {first < 0 ? first + nB : first, forward + backward};
}

// b's index where a's minutia at thetaA starts its walk, moved from the previous minutia's.
inline int walkStart(const View& b, int c, double thetaA) {
  const int nB = static_cast<int>(b.n);
  while (c < nB && static_cast<double>(b.theta[c]) < thetaA) c++;
  while (c > 0 && static_cast<double>(b.theta[c - 1]) >= thetaA) c--;
  return c;
}

// The keys of a's minutia i against b's minutiae [from, to), one pair at a time (two with SSE2).
inline void localRange(Kernel* k, KeyWriter& writer, const View& a, const View& b, int i, int from, int to) {
  const int words = k->p.words;
  const double* sqrtTable = k->sqrtTable;
  const uint32_t* aBits = a.bits + static_cast<size_t>(i) * words;
  const double normA = a.norm[i];
  const uint32_t high = static_cast<uint32_t>(i) << 8;
  int j = from;
#if defined(__SSE2__)
  // Two pairs at a time: the divisions are exact-rounded, so two wide equals one by one.
  for (; j + 2 <= to; j += 2) {
    const int32_t d0 = difference(aBits, b.bits + static_cast<size_t>(j) * words, words);
    const int32_t d1 = difference(aBits, b.bits + static_cast<size_t>(j + 1) * words, words);
    const double norms0 = normA + static_cast<double>(b.norm[j]);
    const double norms1 = normA + static_cast<double>(b.norm[j + 1]);
    const __m128d ratio = _mm_div_pd(_mm_set_pd(sqrtTable[d1], sqrtTable[d0]), _mm_set_pd(norms1, norms0));
    const __m128d similarity = _mm_sub_pd(_mm_set1_pd(1.0), ratio);
    writer.add(norms0, _mm_cvtsd_f64(similarity), high, static_cast<uint32_t>(j));
    writer.add(norms1, _mm_cvtsd_f64(_mm_unpackhi_pd(similarity, similarity)), high, static_cast<uint32_t>(j + 1));
  }
#endif
  for (; j < to; j++) {
    const int32_t differ = difference(aBits, b.bits + static_cast<size_t>(j) * words, words);
    const double norms = normA + static_cast<double>(b.norm[j]);
    writer.add(norms, 1 - sqrtTable[differ] / norms, high, static_cast<uint32_t>(j));
  }
}

#if BIOPAY_HAS_AVX512_KERNEL
// GCC 12's AVX-512 headers start some intrinsics from an "undefined" register, which its
// uninitialized-value warnings report at every use; the values are defined by the intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// How many bits of `mask` (nB bits) are set in a row from `from` upwards, past nB - 1 on to 0,
// `limit` at most.
inline int onesUp(const uint64_t* mask, int nB, int from, int limit) {
  int count = 0;
  for (int at = from; count < limit;) {
    const int bit = at & 63;
    const uint64_t rest = ~(mask[at >> 6] >> bit);
    const int inWord = (nB - at < 64 - bit) ? nB - at : 64 - bit;
    const int ones = rest == 0 ? 64 : __builtin_ctzll(rest);
    count += ones < inWord ? ones : inWord;
    if (ones < inWord) break;
    at += inWord;
    if (at == nB) at = 0;
  }
  return count < limit ? count : limit;
}

// How many bits of `mask` (nB bits) are set in a row from `from` downwards, past 0 on to nB - 1,
// `limit` at most.
inline int onesDown(const uint64_t* mask, int nB, int from, int limit) {
  int count = 0;
  for (int at = from; count < limit;) {
    const int bit = at & 63;
    const uint64_t rest = ~(mask[at >> 6] << (63 - bit));
    const int ones = rest == 0 ? 64 : __builtin_clzll(rest);
    count += ones;
    if (ones <= bit) break;
    at -= bit + 1;
    if (at < 0) at = nB - 1;
  }
  return count < limit ? count : limit;
}

// directionWindow from every b minutia's withinDirection at once: eight at a time into a bit
// mask, then the walk's two runs counted from the mask (the same tests on the same doubles).
BIOPAY_AVX512 Window directionWindowAvx512(const View& b, int c, double thetaA, double maxDiff) {
  const int nB = static_cast<int>(b.n);
  uint64_t mask[kMaxMinutiaeLimit / 64] = {};
  const __m512d a = _mm512_set1_pd(thetaA);
  const __m512d pi = _mm512_set1_pd(kPi);
  const __m512d twoPi = _mm512_set1_pd(kTwoPi);
  const __m512d limit = _mm512_set1_pd(maxDiff);
  for (int j = 0; j < nB; j += 8) {
    const __mmask8 lanes = static_cast<__mmask8>(nB - j >= 8 ? 0xff : (1u << (nB - j)) - 1);
    const __m512d d = _mm512_abs_pd(_mm512_sub_pd(a, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, b.theta + j))));
    const __m512d folded = _mm512_mask_sub_pd(d, _mm512_cmp_pd_mask(d, pi, _CMP_GT_OQ), twoPi, d);
    const __mmask8 within = lanes & _mm512_cmp_pd_mask(folded, limit, _CMP_LE_OQ);
    mask[j >> 6] |= static_cast<uint64_t>(within) << (j & 63);
  }
  const int start = c == nB ? 0 : c;
  const int forward = onesUp(mask, nB, start, nB);
  const int backward = forward == nB ? 0 : onesDown(mask, nB, start == 0 ? nB - 1 : start - 1, nB - forward);
  const int first = start - backward;
  return {first < 0 ? first + nB : first, forward + backward};
}

// localRange eight pairs at a time, for 8-word cylinders on a CPU with AVX-512 VPOPCNTDQ. The
// same IEEE operations per lane (sqrt and division are exact-rounded, so the integer sqrt table
// and one-by-one division give the same doubles); a chunk whose passing keys would leave
// JavaScript's int32 fast path goes through localRange instead.
BIOPAY_AVX512 void localRangeAvx512(Kernel* k, KeyWriter& writer, const View& a, const View& b, int i, int from, int to) {
  const __m512i aBits = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bits + static_cast<size_t>(i) * 8)));
  const __m512d normA = _mm512_set1_pd(a.norm[i]);
  const __m512d one = _mm512_set1_pd(1.0);
  const __m512d minSim = _mm512_set1_pd(writer.minSim);
  const __m512d zero = _mm512_setzero_pd();
  const __m512i inJOrder = _mm512_set_epi64(7, 5, 6, 4, 3, 1, 2, 0);
  const __m256i iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  const __m256i high = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(i) << 8));
  for (int j = from; j < to; j += 8) {
    const int lanesUsed = to - j < 8 ? to - j : 8;
    const __mmask8 lanes = static_cast<__mmask8>((1u << lanesUsed) - 1);
    const uint64_t* bits = reinterpret_cast<const uint64_t*>(b.bits + static_cast<size_t>(j) * 8);
    __m512i counts[4];
    for (int pair = 0; pair < 4; pair++) {
      // Two cylinders (eight 64-bit words) per register; lanes past `to` are not read.
      const __mmask8 words = static_cast<__mmask8>(((lanes >> (2 * pair)) & 1 ? 0x0f : 0) | ((lanes >> (2 * pair + 1)) & 1 ? 0xf0 : 0));
      counts[pair] = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(words, bits + 8 * pair), aBits));
    }
    // Each cylinder's four word counts summed: [j0 j2 j1 j3 j4 j6 j5 j7], then put in j order.
    const __m512i low = _mm512_add_epi64(_mm512_unpacklo_epi64(counts[0], counts[1]), _mm512_unpackhi_epi64(counts[0], counts[1]));
    const __m512i upper = _mm512_add_epi64(_mm512_unpacklo_epi64(counts[2], counts[3]), _mm512_unpackhi_epi64(counts[2], counts[3]));
    const __m512i halves = _mm512_add_epi64(_mm512_shuffle_i64x2(low, upper, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_i64x2(low, upper, _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512d differ = _mm512_cvtepi64_pd(_mm512_permutexvar_epi64(inJOrder, halves));
    const __m512d norms = _mm512_add_pd(normA, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, b.norm + j)));
    const __m512d similarity = _mm512_sub_pd(one, _mm512_div_pd(_mm512_sqrt_pd(differ), norms));
    // As KeyWriter.add: norms != 0 (NaN too) and !(similarity <= minSim) (a NaN passes).
    const __mmask8 passes = lanes & _mm512_cmp_pd_mask(norms, zero, _CMP_NEQ_UQ) & _mm512_cmp_pd_mask(similarity, minSim, _CMP_NLE_UQ);
    const __m512d scaled = _mm512_mul_pd(similarity, _mm512_set1_pd(static_cast<double>(0xffff)));
    const __mmask8 fast = _mm512_cmp_pd_mask(scaled, _mm512_set1_pd(-2147483649.0), _CMP_GT_OQ) & _mm512_cmp_pd_mask(scaled, _mm512_set1_pd(2147483648.0), _CMP_LT_OQ);
    if ((passes & ~fast) != 0) {
      localRange(k, writer, a, b, i, j, j + lanesUsed);
      continue;
    }
    const __m256i js = _mm256_add_epi32(_mm256_set1_epi32(j), iota);
    const __m256i keys = _mm256_or_si256(_mm256_slli_epi32(_mm512_cvttpd_epi32(scaled), 16), _mm256_or_si256(high, js));
    _mm256_mask_compressstoreu_epi32(writer.keys + writer.count, passes, keys);
    writer.count += __builtin_popcount(passes);
  }
}
#pragma GCC diagnostic pop
#endif

// MccMatcher.localSimilarities: keys (similarity << 16 | i << 8 | j) chained per bucket (top 8
// bits), for the run of b's minutiae within the direction limit of each of a's.
void localSimilarities(Kernel* k, const View& a, const View& b) {
  const int nA = static_cast<int>(a.n);
  const int nB = static_cast<int>(b.n);
  const double maxDiff = k->p.maxDirectionDiff;
  KeyWriter writer{k->keys, k->p.minLocalSimilarity, 0};
  int c = 0;
  for (int i = 0; i < nA; i++) {
    const double thetaA = a.theta[i];
    c = walkStart(b, c, thetaA);
#if BIOPAY_HAS_AVX512_KERNEL
    const Window window = k->avx512 ? directionWindowAvx512(b, c, thetaA, maxDiff) : directionWindow(b, c, thetaA, maxDiff);
#else
    const Window window = directionWindow(b, c, thetaA, maxDiff);
#endif
    // The part past the wrap first: keys in ascending (i, j) order leave every bucket's chain
    // already in the order sortBucket wants, so its insertion sort moves nothing.
    const int end = window.first + window.length;
    const int wrapped = end > nB ? end - nB : 0;
    const int untilWrap = end < nB ? end : nB;
#if BIOPAY_HAS_AVX512_KERNEL
    if (k->avx512) {
      if (wrapped > 0) localRangeAvx512(k, writer, a, b, i, 0, wrapped);
      localRangeAvx512(k, writer, a, b, i, window.first, untilWrap);
      continue;
    }
#endif
    if (wrapped > 0) localRange(k, writer, a, b, i, 0, wrapped);
    localRange(k, writer, a, b, i, window.first, untilWrap);
  }
  chainKeys(k, writer.count);
  // The highest bucket holding a key, where selection starts (-1: none).
  int top = kBuckets - 1;
  while (top >= 0 && k->heads[top] < 0) top--;
  k->topBucket = top;
}

// MccMatcher.sortBucket: the chain into run, ordered by minutia indices, ties stable.
inline int sortBucket(Kernel* k, int first) {
  uint32_t* run = k->run;
  const uint32_t* keys = k->keys;
  const int32_t* next = k->next;
  int size = 0;
  for (int index = first; index >= 0; index = next[index]) {
    const uint32_t key = keys[index];
    const uint32_t minutiae = key & 0xffff;
    int at = size++;
    while (at > 0 && (run[at - 1] & 0xffff) < minutiae) {
      run[at] = run[at - 1];
      at--;
    }
    run[at] = key;
  }
  return size;
}

inline uint32_t nextStamp(Kernel* k) {
  if (k->stamp == 0xffffffffu) {
    k->stamp = 0;
    std::memset(k->usedA, 0, static_cast<size_t>(k->p.maxMinutiae) * sizeof(uint32_t));
    std::memset(k->usedB, 0, static_cast<size_t>(k->p.maxMinutiae) * sizeof(uint32_t));
  }
  return ++k->stamp;
}

// MccMatcher.selectPairs: greedy one-to-one choice, best buckets first.
int selectPairs(Kernel* k, const View& a, const View& b, int limit) {
  uint32_t* usedA = k->usedA;
  uint32_t* usedB = k->usedB;
  const uint32_t stamp = nextStamp(k);
  int pairs = 0;
  // Buckets above topBucket are empty: starting there skips nothing JavaScript would take.
  for (int bucket = k->topBucket; bucket >= 0 && pairs < limit; bucket--) {
    if (k->heads[bucket] < 0) continue;
    for (int index = sortBucket(k, k->heads[bucket]) - 1; index >= 0 && pairs < limit; index--) {
      const uint32_t key = k->run[index];
      const uint32_t i = (key >> 8) & 0xff;
      const uint32_t j = key & 0xff;
      if (usedA[i] == stamp || usedB[j] == stamp) continue;
      usedA[i] = stamp;
      usedB[j] = stamp;
      k->pairXa[pairs] = a.x[i];
      k->pairYa[pairs] = a.y[i];
      k->pairTa[pairs] = a.theta[i];
      k->pairXb[pairs] = b.x[j];
      k->pairYb[pairs] = b.y[j];
      k->pairTb[pairs] = b.theta[j];
      k->lambda0[pairs] = static_cast<double>(key >> 16) / 0xffff;
      pairs++;
    }
  }
  return pairs;
}

inline void addEntry(Kernel* k, int row, int column, int pairs, double rho) {
  const int entry = row * pairs + k->rowLength[row]++;
  k->entryColumn[entry] = column;
  k->entryValue[entry] = rho;
}

// MccMatcher.buildCompatibility: sparse rows of rho(t, k), cheapest rejections first.
void buildCompatibility(Kernel* k, int pairs) {
  const double* xa = k->pairXa;
  const double* ya = k->pairYa;
  const double* xb = k->pairXb;
  const double* yb = k->pairYb;
  double* turn = k->pairTurn;
  const double* distanceValues = k->distanceValues;
  const double* angleValues = k->angleValues;
  const double distanceScale = k->p.distanceScale;
  const double angleScale = k->p.angleScale;
  const double rejectSquared = k->p.rejectSquared;
  for (int t = 0; t < pairs; t++) turn[t] = wrap(k->pairTa[t] - k->pairTb[t]);
  for (int t = 0; t < pairs; t++) k->rowLength[t] = 0;
  for (int t = 0; t < pairs; t++) {
    const double xat = xa[t];
    const double yat = ya[t];
    const double xbt = xb[t];
    const double ybt = yb[t];
    const double turnT = turn[t];
    for (int q = t + 1; q < pairs; q++) {
      const double dxa = xa[q] - xat;
      const double dya = ya[q] - yat;
      const double dxb = xb[q] - xbt;
      const double dyb = yb[q] - ybt;
      const double squaredA = dxa * dxa + dya * dya;
      const double squaredB = dxb * dxb + dyb * dyb;
      const double squaredGap = squaredA - squaredB;
      if (squaredGap * squaredGap > rejectSquared * (squaredA + squaredB)) continue;
      const int32_t directionIndex = jsInt32(std::fabs(wrap(turnT - turn[q])) * angleScale);
      if (directionIndex >= kTableSize) continue;
      const int32_t distanceIndex = jsInt32(std::fabs(std::sqrt(squaredA) - std::sqrt(squaredB)) * distanceScale);
      if (distanceIndex >= kTableSize) continue;
      const double segmentTurn = fastAtan2(dxb * dya - dyb * dxa, dxa * dxb + dya * dyb);
      const double radial = tableAt(angleValues, jsInt32(std::fabs(wrap(turnT - segmentTurn)) * angleScale));
      const double rho = tableAt(distanceValues, distanceIndex) * tableAt(angleValues, directionIndex) * radial;
      if (rho == 0) continue;
      addEntry(k, t, q, pairs, rho);
      addEntry(k, q, t, pairs, rho);
    }
  }
}

// MccMatcher.relax: only pairs with compatible pairs are iterated; the others just decay.
void relax(Kernel* k, int pairs) {
  buildCompatibility(k, pairs);
  double* lambda = k->lambda;
  double* next = k->lambdaNext;
  const int32_t* rowLength = k->rowLength;
  const int32_t* entryColumn = k->entryColumn;
  const double* entryValue = k->entryValue;
  int32_t* connected = k->connected;
  const double keep = k->p.relaxWeight;
  const int iterations = k->p.relaxIterations;
  int linked = 0;
  for (int t = 0; t < pairs; t++) {
    lambda[t] = k->lambda0[t];
    if (rowLength[t] > 0) connected[linked++] = t;
    else
      for (int iteration = 0; iteration < iterations; iteration++) lambda[t] = keep * lambda[t];
  }
  const double spread = pairs > 1 ? (1 - keep) / (pairs - 1) : 0;
  for (int iteration = 0; iteration < iterations; iteration++) {
    for (int row = 0; row < linked; row++) {
      const int t = connected[row];
      double support = 0;
      const int start = t * pairs;
      const int end = start + rowLength[t];
      for (int entry = start; entry < end; entry++) support += entryValue[entry] * lambda[entryColumn[entry]];
      next[t] = keep * lambda[t] + spread * support;
    }
    for (int row = 0; row < linked; row++) lambda[connected[row]] = next[connected[row]];
  }
}

// MccMatcher.consolidate: mean relaxed similarity of the `wanted` most efficient pairs.
double consolidate(Kernel* k, int pairs, int wanted) {
  double* topEfficiency = k->topEfficiency;
  double* topLambda = k->topLambda;
  int size = 0;
  for (int t = 0; t < pairs; t++) {
    const double efficiency = k->lambda[t] / k->lambda0[t];
    if (size == wanted && efficiency <= topEfficiency[size - 1]) continue;
    int index = size < wanted ? size++ : size - 1;
    while (index > 0 && topEfficiency[index - 1] < efficiency) {
      topEfficiency[index] = topEfficiency[index - 1];
      topLambda[index] = topLambda[index - 1];
      index--;
    }
    topEfficiency[index] = efficiency;
    topLambda[index] = k->lambda[t];
  }
  double sum = 0;
  for (int index = 0; index < size; index++) sum += topLambda[index];
  return sum / wanted;
}

double score(Kernel* k, const View& a, const View& b) {
  if (a.n == 0 || b.n == 0) return 0;
  localSimilarities(k, a, b);
  int limit = static_cast<int>(a.n < b.n ? a.n : b.n);
  if (k->p.maxRelaxPairs < limit) limit = k->p.maxRelaxPairs;
  const int pairs = selectPairs(k, a, b, limit);
  if (pairs == 0) return 0;
  relax(k, pairs);
  return consolidate(k, pairs, k->pairsWanted[a.n < b.n ? a.n : b.n]);
}

// ---- Node-API glue ----

// The template at word `base` of `words`, when it lies wholly inside the array.
bool viewAt(napi_env env, const Kernel* k, const uint32_t* words, size_t length, int64_t base, View* view) {
  if (base < 0 || static_cast<uint64_t>(base) + kHeaderWords > length) return throwError(env, "INVALID_TEMPLATE", "template base outside the word array");
  const uint32_t n = words[base + 1];
  if (n > static_cast<uint32_t>(k->p.maxMinutiae)) return throwError(env, "INVALID_TEMPLATE", "template has more minutiae than the matcher allows");
  const uint64_t extent = kHeaderWords + 4ull * n + static_cast<uint64_t>(n) * static_cast<uint64_t>(k->p.words);
  if (static_cast<uint64_t>(base) + extent > length) return throwError(env, "INVALID_TEMPLATE", "template runs past the end of the word array");
  const uint32_t* x = words + base + kHeaderWords;
  view->n = n;
  view->x = reinterpret_cast<const float*>(x);
  view->y = reinterpret_cast<const float*>(x + n);
  view->theta = reinterpret_cast<const float*>(x + 2 * n);
  view->norm = reinterpret_cast<const float*>(x + 3 * n);
  view->bits = x + 4 * n;
  return true;
}

void finalizeKernel(napi_env, void* data, void*) { std::free(data); }

bool validParams(const double* raw, Params* p) {
  if (!allFinite(raw, kParamCount)) return false;
  p->words = static_cast<int>(raw[0]);
  p->maxMinutiae = static_cast<int>(raw[1]);
  p->maxDirectionDiff = raw[2];
  p->minLocalSimilarity = raw[3];
  p->maxRelaxPairs = static_cast<int>(raw[4]);
  p->relaxIterations = static_cast<int>(raw[5]);
  p->relaxWeight = raw[6];
  p->distanceScale = raw[7];
  p->angleScale = raw[8];
  p->rejectSquared = raw[9];
  return p->words >= 1 && p->words <= kMaxWords && raw[0] == p->words && p->maxMinutiae >= 1 && p->maxMinutiae <= kMaxMinutiaeLimit &&
         raw[1] == p->maxMinutiae && p->maxRelaxPairs >= 0 && raw[4] == p->maxRelaxPairs && p->relaxIterations >= 0 && p->relaxIterations <= 1000 &&
         raw[5] == p->relaxIterations;
}

// create(params, distanceValues, angleValues, pairsWanted, allowWide = true) -> handle
// allowWide false keeps the local stage two pairs at a time on any CPU (tests compare the two).
napi_value Create(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  bool allowWide = true;
  if (!argumentsAndFlag(env, info, 4, argv, &allowWide, "create(params, distanceValues, angleValues, pairsWanted, allowWide?)", "allowWide must be a boolean")) return nullptr;
  double* raw = nullptr;
  double* distanceValues = nullptr;
  double* angleValues = nullptr;
  int32_t* pairsWanted = nullptr;
  size_t rawLength = 0, distanceLength = 0, angleLength = 0, wantedLength = 0;
  if (!typedArray(env, argv[0], napi_float64_array, &raw, &rawLength, "params must be a Float64Array")) return nullptr;
  if (!typedArray(env, argv[1], napi_float64_array, &distanceValues, &distanceLength, "distanceValues must be a Float64Array")) return nullptr;
  if (!typedArray(env, argv[2], napi_float64_array, &angleValues, &angleLength, "angleValues must be a Float64Array")) return nullptr;
  if (!typedArray(env, argv[3], napi_int32_array, &pairsWanted, &wantedLength, "pairsWanted must be an Int32Array")) return nullptr;
  Params p{};
  if (rawLength != kParamCount || !validParams(raw, &p)) return fail(env, "BAD_REQUEST", "matcher parameters outside what the native kernel supports");
  if (distanceLength != kTableSize + 1 || angleLength != kTableSize + 1 || wantedLength != static_cast<size_t>(p.maxMinutiae) + 1) {
    return fail(env, "BAD_REQUEST", "table sizes do not match the parameters");
  }
  for (size_t n = 0; n < wantedLength; n++) {
    if (pairsWanted[n] < 1 || pairsWanted[n] > 4096) return fail(env, "BAD_REQUEST", "pairsWanted entries must lie in [1, 4096]");
  }
  Kernel* kernel = newKernel(p, distanceValues, angleValues, pairsWanted, allowWide);
  if (kernel == nullptr) return fail(env, "INTERNAL", "out of memory for the matcher's scratch buffers");
  napi_value handle;
  if (napi_create_external(env, kernel, finalizeKernel, nullptr, &handle) != napi_ok) {
    std::free(kernel);
    return fail(env, "INTERNAL", "cannot create the matcher handle");
  }
  napi_type_tag_object(env, handle, &kKernelTag);
  return handle;
}

// Candidates lie anywhere in a gallery of megabytes, so the next one is asked for while this one
// is compared: its first kPrefetchBytes (a template of ~40 minutiae), at most to the array's end.
constexpr int64_t kPrefetchBytes = 2048;

inline void prefetchTemplate(const uint32_t* words, size_t length, int64_t base) {
  if (base < 0 || static_cast<uint64_t>(base) >= length) return;
  const char* from = reinterpret_cast<const char*>(words + base);
  const char* end = reinterpret_cast<const char*>(words + length);
  const char* until = end - from < kPrefetchBytes ? end : from + kPrefetchBytes;
  for (const char* line = from; line < until; line += 64) __builtin_prefetch(line);
}

// The kernel behind a handle made by create, or nullptr with a thrown error.
Kernel* kernelOf(napi_env env, napi_value handle) {
  bool tagged = false;
  void* data = nullptr;
  if (napi_check_object_type_tag(env, handle, &kKernelTag, &tagged) != napi_ok || !tagged || napi_get_value_external(env, handle, &data) != napi_ok) {
    throwError(env, "BAD_REQUEST", "not a matcher handle");
    return nullptr;
  }
  return static_cast<Kernel*>(data);
}

// localStage(handle) -> "avx512" (eight pairs at a time) | "sse2" (two) | "scalar" (one)
napi_value LocalStage(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!callArguments(env, info, 1, argv, "localStage(handle)")) return nullptr;
  const Kernel* kernel = kernelOf(env, argv[0]);
  if (kernel == nullptr) return nullptr;
#if defined(__SSE2__)
  const char* narrow = "sse2";
#else
  const char* narrow = "scalar";
#endif
  napi_value name;
  if (napi_create_string_utf8(env, kernel->avx512 ? "avx512" : narrow, NAPI_AUTO_LENGTH, &name) != napi_ok) return nullptr;
  return name;
}

// scoreMany(handle, probeWords, probeBase, galleryWords, bases, count, out)
napi_value ScoreMany(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!callArguments(env, info, 7, argv, "scoreMany(handle, probeWords, probeBase, galleryWords, bases, count, out)")) return nullptr;
  Kernel* kernel = kernelOf(env, argv[0]);
  if (kernel == nullptr) return nullptr;
  uint32_t* probeWords = nullptr;
  uint32_t* galleryWords = nullptr;
  int32_t* bases = nullptr;
  double* out = nullptr;
  size_t probeLength = 0, galleryLength = 0, basesLength = 0, outLength = 0;
  int64_t probeBase = 0, count = 0;
  if (!typedArray(env, argv[1], napi_uint32_array, &probeWords, &probeLength, "probeWords must be a Uint32Array")) return nullptr;
  if (!integerArgument(env, argv[2], &probeBase, "INVALID_TEMPLATE", "probeBase must be an integer")) return nullptr;
  if (!typedArray(env, argv[3], napi_uint32_array, &galleryWords, &galleryLength, "galleryWords must be a Uint32Array")) return nullptr;
  if (!typedArray(env, argv[4], napi_int32_array, &bases, &basesLength, "bases must be an Int32Array")) return nullptr;
  if (!integerArgument(env, argv[5], &count, "BAD_REQUEST", "count must be an integer")) return nullptr;
  if (!typedArray(env, argv[6], napi_float64_array, &out, &outLength, "out must be a Float64Array")) return nullptr;
  if (count < 0 || static_cast<uint64_t>(count) > basesLength || static_cast<uint64_t>(count) > outLength) return fail(env, "BAD_REQUEST", "count exceeds bases or out");
  // Each template's minutia count is read once, checked, and kept in its view: a count changed
  // meanwhile in shared memory cannot move a read past what was checked.
  View probe;
  if (!viewAt(env, kernel, probeWords, probeLength, probeBase, &probe)) return nullptr;
  for (int64_t index = 0; index < count; index++) {
    if (index + 1 < count) prefetchTemplate(galleryWords, galleryLength, bases[index + 1]);
    View candidate;
    if (!viewAt(env, kernel, galleryWords, galleryLength, bases[index], &candidate)) return nullptr;
    out[index] = score(kernel, probe, candidate);
  }
  return nullptr;
}

// ---- candidate index: vote collection (candidate-index.ts, collect) ----

constexpr int64_t kBlockSlots = 15;
constexpr int64_t kBlockWords = kBlockSlots + 1;
constexpr uint32_t kRotationShift = 4;
constexpr uint32_t kRotationMask = (1u << kRotationShift) - 1;

// Per-key bucket count and head, read ahead of the walk so that their cache misses overlap.
struct KeyScratch {
  std::vector<int32_t> counts, heads;
};

// What the walks read the per-key arrays through.
struct KeyChains {
  const int32_t* counts;
  const int32_t* heads;
};

// The walk's rule for a key whose bucket holds `count` postings, `taken` cells already written:
// crowded buckets are skipped, and so is a key that would take the total past maxVotes.
inline bool takesKey(int64_t count, int64_t taken, int64_t crowded, int64_t maxVotes) {
  return count <= crowded && taken + count <= maxVotes;
}

// The walk of collectVotes, key after key and block after block: the reference, and the answer
// whenever the interleaved walk cannot vouch for its own. Returns the cells written, or -(cells
// needed) when cells is too short.
int64_t walkSerial(KeyChains chains, const uint8_t* rotations, int64_t keyCount, const int32_t* pool, size_t poolLength, int64_t slotCount, int64_t crowded,
                   int64_t maxVotes, uint32_t* cells, size_t cellsLength) {
  int64_t size = 0;
  for (int64_t key = 0; key < keyCount; key++) {
    int64_t remaining = chains.counts[key];
    if (!takesKey(remaining, size, crowded, maxVotes)) continue;
    if (size + remaining > static_cast<int64_t>(cellsLength)) return -(size + remaining);
    const uint32_t rotation = rotations[key];
    for (int64_t block = chains.heads[key]; remaining > 0; ) {
      const int64_t start = block * kBlockWords;
      if (block < 0 || start + kBlockWords > static_cast<int64_t>(poolLength)) break;
      const int64_t inBlock = remaining < kBlockSlots ? remaining : kBlockSlots;
      for (int64_t index = start + 1; index < start + 1 + inBlock; index++) {
        const uint32_t entry = static_cast<uint32_t>(pool[index]);
        if (static_cast<int64_t>(entry >> kRotationShift) >= slotCount) continue;
        cells[size++] = (entry & ~kRotationMask) | ((rotation - entry) & kRotationMask);
      }
      remaining -= inBlock;
      block = pool[start];
    }
  }
  return size;
}

// Chains walked at once by walkInterleaved: enough cache misses in flight to hide most of the
// memory latency, few enough that their blocks stay in L1.
constexpr int kWalkLanes = 8;

struct WalkLane {
  int64_t block;
  int64_t remaining;
  int64_t out;
  uint32_t rotation;
};

// The serial walk's cells, entry for entry, with kWalkLanes keys' block chains followed side by
// side: each key writes into the range the serial walk would give it, and the block a lane reads
// next is prefetched a round ahead. A chain of blocks is a run of dependent cache misses (the
// postings of a 10,000-template index far exceed the caches); walked one after another they
// cost their latencies in sequence. The ranges equal the serial walk's only when every key writes
// all of its count: on a filtered entry (a slot enrolled after the search began), a stale link or
// a short cells array this returns -1, and the caller walks serially.
int64_t walkInterleaved(KeyChains chains, const uint8_t* rotations, int64_t keyCount, const int32_t* pool, size_t poolLength,
                        int64_t slotCount, int64_t crowded, int64_t maxVotes, uint32_t* cells, size_t cellsLength) {
  WalkLane lanes[kWalkLanes];
  int active = 0;
  int64_t nextKey = 0;
  int64_t reserved = 0;
  // The next key the serial walk would take, with its range reserved; false when none is left.
  auto claim = [&](WalkLane& lane) {
    for (; nextKey < keyCount; nextKey++) {
      const int64_t count = chains.counts[nextKey];
      // A key with no postings (or a hostile negative count) writes nothing in either walk.
      if (count <= 0 || !takesKey(count, reserved, crowded, maxVotes)) continue;
      lane = {chains.heads[nextKey], count, reserved, rotations[nextKey]};
      if (lane.block > 0 && static_cast<uint64_t>(lane.block) * kBlockWords < poolLength) __builtin_prefetch(pool + lane.block * kBlockWords);
      reserved += count;
      nextKey++;
      return true;
    }
    return false;
  };
  // A short cells array is found before any write past it (the reservations are the same sums).
  {
    int64_t total = 0;
    for (int64_t key = 0; key < keyCount; key++) {
      const int64_t count = chains.counts[key];
      if (count <= 0 || !takesKey(count, total, crowded, maxVotes)) continue;
      if (total + count > static_cast<int64_t>(cellsLength)) return -1;
      total += count;
    }
  }
  while (active < kWalkLanes && claim(lanes[active])) active++;
  while (active > 0) {
    for (int lane = 0; lane < active; ) {
      WalkLane& l = lanes[lane];
      const int64_t start = l.block * kBlockWords;
      if (l.block < 0 || start + kBlockWords > static_cast<int64_t>(poolLength)) return -1;
      const int64_t inBlock = l.remaining < kBlockSlots ? l.remaining : kBlockSlots;
      const int32_t* entries = pool + start + 1;
      for (int64_t index = 0; index < inBlock; index++) {
        const uint32_t entry = static_cast<uint32_t>(entries[index]);
        if (static_cast<int64_t>(entry >> kRotationShift) >= slotCount) return -1;
        cells[l.out + index] = (entry & ~kRotationMask) | ((l.rotation - entry) & kRotationMask);
      }
      l.out += inBlock;
      l.remaining -= inBlock;
      l.block = pool[start];
      if (l.remaining > 0) {
        if (l.block > 0 && static_cast<uint64_t>(l.block) * kBlockWords < poolLength) __builtin_prefetch(pool + l.block * kBlockWords);
        lane++;
      } else if (!claim(l)) {
        l = lanes[--active];
      } else {
        lane++;
      }
    }
  }
  return reserved;
}

// collectVotes(buckets, rotations, keyCount, heads, counts, pool, slotCount, crowded, maxVotes, cells)
// -> votes written into cells, or -(votes needed) when cells is too short (grow it and call again).
// The same walk as the JavaScript one, entry for entry: a key whose bucket holds more than
// `crowded` postings, or that would take the total past maxVotes, is skipped; entries of slots at
// or past slotCount are not counted. Postings are read in shared memory that another thread may
// be appending to: every read is bounds-checked, so a stale link ends a walk, never a read outside.
napi_value CollectVotes(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!callArguments(env, info, 10, argv, "collectVotes(buckets, rotations, keyCount, heads, counts, pool, slotCount, crowded, maxVotes, cells)")) return nullptr;
  uint32_t* buckets = nullptr;
  uint8_t* rotations = nullptr;
  int32_t* heads = nullptr;
  int32_t* counts = nullptr;
  int32_t* pool = nullptr;
  uint32_t* cells = nullptr;
  size_t bucketsLength = 0, rotationsLength = 0, headsLength = 0, countsLength = 0, poolLength = 0, cellsLength = 0;
  int64_t keyCount = 0, slotCount = 0, crowded = 0, maxVotes = 0;
  if (!typedArray(env, argv[0], napi_uint32_array, &buckets, &bucketsLength, "buckets must be a Uint32Array")) return nullptr;
  if (!typedArray(env, argv[1], napi_uint8_array, &rotations, &rotationsLength, "rotations must be a Uint8Array")) return nullptr;
  if (!integerArgument(env, argv[2], &keyCount, "BAD_REQUEST", "keyCount must be an integer")) return nullptr;
  if (!typedArray(env, argv[3], napi_int32_array, &heads, &headsLength, "heads must be an Int32Array")) return nullptr;
  if (!typedArray(env, argv[4], napi_int32_array, &counts, &countsLength, "counts must be an Int32Array")) return nullptr;
  if (!typedArray(env, argv[5], napi_int32_array, &pool, &poolLength, "pool must be an Int32Array")) return nullptr;
  if (!integerArgument(env, argv[6], &slotCount, "BAD_REQUEST", "slotCount must be an integer")) return nullptr;
  if (!integerArgument(env, argv[7], &crowded, "BAD_REQUEST", "crowded must be an integer")) return nullptr;
  if (!integerArgument(env, argv[8], &maxVotes, "BAD_REQUEST", "maxVotes must be an integer")) return nullptr;
  if (!typedArray(env, argv[9], napi_uint32_array, &cells, &cellsLength, "cells must be a Uint32Array")) return nullptr;
  if (keyCount < 0 || static_cast<uint64_t>(keyCount) > bucketsLength || static_cast<uint64_t>(keyCount) > rotationsLength) return fail(env, "BAD_REQUEST", "keyCount exceeds buckets or rotations");
  if (headsLength != countsLength) return fail(env, "BAD_REQUEST", "heads and counts differ in length");
  KeyScratch& keys = biopay::threadScratch<KeyScratch>();
  keys.counts.resize(static_cast<size_t>(keyCount));
  keys.heads.resize(static_cast<size_t>(keyCount));
  int32_t* keyCounts = keys.counts.data();
  int32_t* keyHeads = keys.heads.data();
  for (int64_t key = 0; key < keyCount; key++) {
    const uint32_t bucket = buckets[key];
    if (bucket < countsLength) {
      __builtin_prefetch(counts + bucket);
      __builtin_prefetch(heads + bucket);
    }
  }
  for (int64_t key = 0; key < keyCount; key++) {
    const uint32_t bucket = buckets[key];
    const int32_t count = bucket < countsLength ? counts[bucket] : 0;
    const int32_t head = bucket < countsLength ? heads[bucket] : 0;
    keyCounts[key] = count;
    keyHeads[key] = head;
    if (count > 0 && head > 0 && static_cast<uint64_t>(head) * kBlockWords < poolLength) __builtin_prefetch(pool + static_cast<int64_t>(head) * kBlockWords);
  }
  const KeyChains chains{keyCounts, keyHeads};
  const int64_t size = walkInterleaved(chains, rotations, keyCount, pool, poolLength, slotCount, crowded, maxVotes, cells, cellsLength);
  napi_value written;
  napi_create_double(env, static_cast<double>(size >= 0 ? size : walkSerial(chains, rotations, keyCount, pool, poolLength, slotCount, crowded, maxVotes, cells, cellsLength)), &written);
  return written;
}

// ---- Candidate scoring (CandidateIndex.scoreChunks) ----

// Slots per counting chunk: 4x JavaScript's (its results do not depend on the chunking). A
// gallery of up to 16,384 slots is then counted without grouping its cells first, in a 512 KiB
// table that stays in a 1-2 MiB L2: over 10,000 templates, 1.17 -> 1.03 ms per index search.
constexpr int kChunkSlotBits = 14;
constexpr int kChunkSlots = 1 << kChunkSlotBits;
constexpr int kRotationBins = 1 << kRotationShift;
constexpr int kChunkCells = kChunkSlots * kRotationBins;
constexpr int kChunkCellShift = kChunkSlotBits + kRotationShift;
constexpr int kTieSteps = 8;
constexpr int kFloorBins = 8192;
constexpr double kSizeScale = 16;
constexpr int kDirectoryStride = 3;

// Per-thread scratch of one scoring call (searches of one thread run one at a time).
struct ScoreScratch {
  std::vector<uint32_t> grouped;
  std::vector<int64_t> chunkStarts;
  // Each chunk's write position while the cells are grouped.
  std::vector<int64_t> chunkCursors;
  uint16_t votes[kChunkCells];
  uint8_t totals[kChunkSlots];
  int32_t histogram[kFloorBins];
};
// Made zeroed on a thread's first call (thread-scratch.h), on the heap: it is large.
using ScoreScratchSlot = std::unique_ptr<ScoreScratch>;

// CandidateIndex's ScoreFloor: the largest score such that `limit` kept slots score it or more.
struct Floor {
  int32_t* histogram;
  int64_t limit;
  int64_t atLeast;
  int32_t value;

  inline void add(int32_t score) {
    if (limit == 0) return;
    histogram[score < kFloorBins - 1 ? score : kFloorBins - 1]++;
    atLeast++;
    while (value < kFloorBins - 1 && atLeast - histogram[value] >= limit) {
      atLeast -= histogram[value];
      value++;
    }
  }
};

// sizeFactor: the slot's votes' score multiplier from its template's triplet count (a Uint16),
// from a table made once: the same divisions and square roots as JavaScript's, not one per slot.
const double* sizeFactors() {
  static const std::vector<double> table = [] {
    std::vector<double> factors(65536);
    factors[0] = 1;
    for (size_t triplets = 1; triplets < factors.size(); triplets++) factors[triplets] = kSizeScale / std::sqrt(static_cast<double>(triplets));
    return factors;
  }();
  return table.data();
}

// CandidateIndex.slotScore over a slot's bins at `from`, without branches: the bin it keeps (the
// largest three-bin sum, ties to the larger centre) is the largest (sum, centre) pair.
inline int32_t slotScore(const uint16_t* votes, int from) {
  uint32_t bins[kRotationBins + 2];
  bins[0] = votes[from + kRotationBins - 1];
  for (int bin = 0; bin < kRotationBins; bin++) bins[bin + 1] = votes[from + bin];
  bins[kRotationBins + 1] = votes[from];
  uint64_t top = 0;
  for (int bin = 0; bin < kRotationBins; bin++) {
    const uint64_t sum = static_cast<uint64_t>(bins[bin]) + bins[bin + 1] + bins[bin + 2];
    const uint64_t key = (sum << 17) | bins[bin + 1];
    top = key > top ? key : top;
  }
  const int32_t best = static_cast<int32_t>(top >> 17);
  const int32_t centre = static_cast<int32_t>(top & 0x1ffff);
  return best * kTieSteps + (centre < kTieSteps - 1 ? centre : kTieSteps - 1);
}

// Cells grouped by chunk of slots (a counting sort, as CandidateIndex.group); the cells
// themselves when there is one chunk. A cell of a slot past the last chunk (not one collectVotes
// gives) is dropped here, and one past slotCount in its chunk when it is counted.
const uint32_t* groupCells(ScoreScratch* scratch, const uint32_t* cells, int64_t cellCount, int64_t chunks) {
  std::vector<int64_t>& starts = scratch->chunkStarts;
  starts.assign(static_cast<size_t>(chunks + 1), 0);
  if (chunks == 1) {
    starts[1] = cellCount;
    return cells;
  }
  for (int64_t index = 0; index < cellCount; index++) {
    const int64_t chunk = cells[index] >> kChunkCellShift;
    if (chunk < chunks) starts[chunk + 1]++;
  }
  for (int64_t chunk = 0; chunk < chunks; chunk++) starts[chunk + 1] += starts[chunk];
  scratch->grouped.resize(static_cast<size_t>(starts[chunks]));
  std::vector<int64_t>& cursor = scratch->chunkCursors;
  cursor.assign(starts.begin(), starts.end() - 1);
  for (int64_t index = 0; index < cellCount; index++) {
    const uint32_t cell = cells[index];
    const int64_t chunk = cell >> kChunkCellShift;
    if (chunk < chunks) scratch->grouped[cursor[chunk]++] = cell;
  }
  return scratch->grouped.data();
}

// scoreVotes(cells, cellCount, slotCount, limit, sizes, directory, hint, outSlots, outValues)
// -> slots kept (ascending, with their scores in outValues), or -(room needed) when the outputs
// are too short (grow them and call again). CandidateIndex.scoreChunks with its accept test as
// the engine's: a slot is taken when its directory entry is live and, with a hint, has it.
napi_value ScoreVotes(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!callArguments(env, info, 9, argv, "scoreVotes(cells, cellCount, slotCount, limit, sizes, directory, hint, outSlots, outValues)")) return nullptr;
  uint32_t* cells = nullptr;
  uint16_t* sizes = nullptr;
  int32_t* directory = nullptr;
  int32_t* outSlots = nullptr;
  int32_t* outValues = nullptr;
  size_t cellsLength = 0, sizesLength = 0, directoryLength = 0, outSlotsLength = 0, outValuesLength = 0;
  int64_t cellCount = 0, slotCount = 0, limit = 0, hint = 0;
  if (!typedArray(env, argv[0], napi_uint32_array, &cells, &cellsLength, "cells must be a Uint32Array")) return nullptr;
  if (!integerArgument(env, argv[1], &cellCount, "BAD_REQUEST", "cellCount must be an integer")) return nullptr;
  if (!integerArgument(env, argv[2], &slotCount, "BAD_REQUEST", "slotCount must be an integer")) return nullptr;
  if (!integerArgument(env, argv[3], &limit, "BAD_REQUEST", "limit must be an integer")) return nullptr;
  if (!typedArray(env, argv[4], napi_uint16_array, &sizes, &sizesLength, "sizes must be a Uint16Array")) return nullptr;
  if (!typedArray(env, argv[5], napi_int32_array, &directory, &directoryLength, "directory must be an Int32Array")) return nullptr;
  if (!integerArgument(env, argv[6], &hint, "BAD_REQUEST", "hint must be an integer")) return nullptr;
  if (!typedArray(env, argv[7], napi_int32_array, &outSlots, &outSlotsLength, "outSlots must be an Int32Array")) return nullptr;
  if (!typedArray(env, argv[8], napi_int32_array, &outValues, &outValuesLength, "outValues must be an Int32Array")) return nullptr;
  if (cellCount < 0 || static_cast<uint64_t>(cellCount) > cellsLength) return fail(env, "BAD_REQUEST", "cellCount exceeds cells");
  if (slotCount < 0 || slotCount > (int64_t{1} << 26) || limit < 0) return fail(env, "BAD_REQUEST", "slotCount or limit out of range");
  if (hint < INT32_MIN || hint > INT32_MAX) return fail(env, "BAD_REQUEST", "hint must be an int32");
  // The scratch is per thread and outlives the call; a failed allocation is an error, not a crash.
  ScoreScratchSlot& slot = biopay::threadScratch<ScoreScratchSlot>();
  if (!slot) slot.reset(new (std::nothrow) ScoreScratch());
  if (!slot) return fail(env, "INTERNAL", "scoreVotes: out of memory");
  ScoreScratch* scratch = slot.get();
  const double* factors = sizeFactors();
  const int64_t chunks = slotCount > 0 ? (slotCount + kChunkSlots - 1) / kChunkSlots : 1;
  const uint32_t* grouped = groupCells(scratch, cells, cellCount, chunks);
  std::memset(scratch->histogram, 0, sizeof scratch->histogram);
  Floor floor{scratch->histogram, limit, 0, 0};
  const size_t room = outSlotsLength < outValuesLength ? outSlotsLength : outValuesLength;
  int64_t scored = 0;
  for (int64_t chunk = 0; chunk < chunks; chunk++) {
    const int64_t from = scratch->chunkStarts[chunk];
    const int64_t to = scratch->chunkStarts[chunk + 1];
    if (from == to) continue;
    const int64_t rest = slotCount - chunk * kChunkSlots;
    const int slotsInChunk = static_cast<int>(rest < kChunkSlots ? rest : kChunkSlots);
    for (int64_t index = from; index < to; index++) {
      const uint32_t raw = grouped[index];
      const uint32_t cell = raw & (kChunkCells - 1);
      const uint32_t local = cell >> kRotationShift;
      if (static_cast<int64_t>(raw >> kChunkCellShift) != chunk || local >= static_cast<uint32_t>(slotsInChunk)) continue;
      if (scratch->totals[local] < 0xff) scratch->totals[local]++;
      if (scratch->votes[cell] < 0xffff) scratch->votes[cell]++;
    }
    for (int local = 0; local < slotsInChunk; local++) {
      const int32_t total = scratch->totals[local];
      if (total == 0) continue;
      scratch->totals[local] = 0;
      const int64_t slot = chunk * kChunkSlots + local;
      const double scale = factors[static_cast<uint64_t>(slot) < sizesLength ? sizes[slot] : 0];
      if (total < 0xff && std::floor(static_cast<double>(total * kTieSteps + kTieSteps - 1) * scale) < floor.value) continue;
      const int32_t score = static_cast<int32_t>(std::floor(static_cast<double>(slotScore(scratch->votes, local << kRotationShift)) * scale));
      if (score < floor.value) continue;
      const uint64_t entry = static_cast<uint64_t>(slot) * kDirectoryStride;
      if (entry + 2 >= directoryLength || directory[entry + 1] == 0 || (hint != 0 && directory[entry + 2] != hint)) continue;
      if (static_cast<size_t>(scored) == room) {
        // Out of room: the caller grows the outputs; the scratch must be left clean for it.
        std::memset(scratch->votes, 0, sizeof scratch->votes);
        std::memset(scratch->totals, 0, sizeof scratch->totals);
        napi_value needed;
        napi_create_double(env, -static_cast<double>(2 * room + 1), &needed);
        return needed;
      }
      outSlots[scored] = static_cast<int32_t>(slot);
      outValues[scored++] = score;
      floor.add(score);
    }
    std::memset(scratch->votes, 0, static_cast<size_t>(slotsInChunk) * kRotationBins * sizeof(uint16_t));
  }
  napi_value written;
  napi_create_double(env, static_cast<double>(scored), &written);
  return written;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"create", nullptr, Create, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scoreMany", nullptr, ScoreMany, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"localStage", nullptr, LocalStage, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"collectVotes", nullptr, CollectVotes, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scoreVotes", nullptr, ScoreVotes, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"buildCylinders", nullptr, biopay::cylinders::BuildCylinders, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"expNonPositiveMany", nullptr, biopay::cylinders::ExpNonPositiveMany, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"erfMany", nullptr, biopay::cylinders::ErfMany, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tripletNeighbours", nullptr, biopay::triplets::TripletNeighbours, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tripletKeys", nullptr, biopay::triplets::TripletKeys, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
