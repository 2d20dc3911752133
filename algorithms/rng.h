// Portable random streams for algorithms.
//
// Suggestions must be reproducible from a seed on any platform and standard
// library, so nothing here uses std:: distributions or std::shuffle (whose
// algorithms are implementation-defined). std::mt19937_64 itself is fully
// specified by the standard, including its seeding from one integer.
#ifndef VERNIER_ALGORITHMS_RNG_H_
#define VERNIER_ALGORITHMS_RNG_H_

#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace vernier::algorithms {

// SplitMix64's output function (Steele, Lea, Flood 2014): a bijective mixer
// that turns related integers (seed, seed + 1, ...) into unrelated ones.
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A double uniform on [0, 1): the top 53 bits of one draw, times 2^-53.
inline double UniformDouble(std::mt19937_64& engine) {
  return static_cast<double>(engine() >> 11) * 0x1.0p-53;
}

// A double uniform on (0, 1]: as UniformDouble, shifted by one step, so that
// its logarithm is finite.
inline double UniformDoubleOpenZero(std::mt19937_64& engine) {
  return static_cast<double>((engine() >> 11) + 1) * 0x1.0p-53;
}

// An integer uniform on [0, n), n > 0, by rejection: draws at or above the
// largest multiple of n that fits are redrawn, so there is no modulo bias.
inline uint64_t UniformBelow(std::mt19937_64& engine, uint64_t n) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  const uint64_t limit = max - max % n;
  uint64_t draw = engine();
  while (draw >= limit) draw = engine();
  return draw % n;
}

// Fisher-Yates: for i from the last index down to 1, swap item i with an
// item drawn uniformly from [0, i].
template <typename T>
void Shuffle(std::vector<T>& items, std::mt19937_64& engine) {
  for (size_t i = items.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(UniformBelow(engine, i));
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_RNG_H_
