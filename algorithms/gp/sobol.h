// Sobol' low-discrepancy points in [0,1)^d, with a random digital shift.
//
// Direction numbers from S. Joe and F. Y. Kuo, "Constructing Sobol sequences
// with better two-dimensional projections", SIAM J. Sci. Comput. 30 (2008)
// 2635-2654, file new-joe-kuo-6.21201, for dimensions 1 to kSobolMaxDims.
// Coordinates beyond kSobolMaxDims are plain pseudo-random draws from the
// same engine (so any d works; only the first kSobolMaxDims are
// low-discrepancy).
//
// The digital shift (each coordinate's 32-bit integer XORed with a random
// word drawn once per dimension) keeps every (t,m,s)-net property of the
// unshifted sequence while making the points depend on a seed, so two studies
// with different seeds start from different designs.
//
// Not thread-safe; cheap to construct.
#ifndef VERNIER_ALGORITHMS_GP_SOBOL_H_
#define VERNIER_ALGORITHMS_GP_SOBOL_H_

#include <cstdint>
#include <random>
#include <vector>

namespace vernier::algorithms::gp {

inline constexpr int kSobolMaxDims = 58;

class SobolSequence final {
 public:
  // `dimensions` >= 0. Draws the shift (and later any extra coordinates)
  // from `seed`.
  SobolSequence(int dimensions, uint64_t seed);

  // Point number `index` (0, 1, 2, ...) of the shifted sequence. Points are
  // independent of the order in which they are asked for, except the
  // coordinates beyond kSobolMaxDims, which are drawn in call order.
  std::vector<double> Point(uint32_t index);

 private:
  int dimensions_;
  // direction_[j][b]: direction number b (of 32) of dimension j.
  std::vector<std::vector<uint32_t>> direction_;
  std::vector<uint32_t> shift_;
  std::mt19937_64 engine_;
};

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_SOBOL_H_
