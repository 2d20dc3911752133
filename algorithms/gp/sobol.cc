#include "algorithms/gp/sobol.h"

#include <algorithm>
#include <sstream>
#include <string>

#include "algorithms/rng.h"

namespace vernier::algorithms::gp {
namespace {

// new-joe-kuo-6.21201, dimensions 2 to kSobolMaxDims, each as
// "s a m_1 ... m_s" (degree, polynomial coefficients, initial numbers).
// Dimension 1 is van der Corput and needs none.
constexpr const char* kJoeKuo =
    "1 0 1|2 1 1 3|3 1 1 3 1|3 2 1 1 1|4 1 1 1 3 3|4 4 1 3 5 13|5 2 1 1 5 5 "
    "17|5 4 1 1 5 5 5|5 7 1 1 7 11 19|5 11 1 1 5 1 1|5 13 1 1 1 3 11|5 14 1 "
    "3 5 5 31|6 1 1 3 3 9 7 49|6 13 1 1 1 15 21 21|6 16 1 3 1 13 27 49|6 19 "
    "1 1 1 15 7 5|6 22 1 3 1 15 13 25|6 25 1 1 5 5 19 61|7 1 1 3 7 11 23 15 "
    "103|7 4 1 3 7 13 13 15 69|7 7 1 1 3 13 7 35 63|7 8 1 3 5 9 1 25 53|7 14 "
    "1 3 1 13 9 35 107|7 19 1 3 1 5 27 61 31|7 21 1 1 5 11 19 41 61|7 28 1 3 "
    "5 3 3 13 69|7 31 1 1 7 13 1 19 1|7 32 1 3 7 5 13 19 59|7 37 1 1 3 9 25 "
    "29 41|7 41 1 3 5 13 23 1 55|7 42 1 3 7 3 13 59 17|7 50 1 3 1 3 5 53 "
    "69|7 55 1 1 5 5 23 33 13|7 56 1 1 7 7 1 61 123|7 59 1 1 7 9 13 61 49|7 "
    "62 1 3 3 5 3 55 33|8 14 1 3 1 15 31 13 49 245|8 21 1 3 5 15 31 59 63 "
    "97|8 22 1 3 1 11 11 11 77 249|8 38 1 3 1 11 27 43 71 9|8 47 1 1 7 15 21 "
    "11 81 45|8 49 1 3 7 3 25 31 65 79|8 50 1 3 1 1 19 11 3 205|8 52 1 1 5 9 "
    "19 21 29 157|8 56 1 3 7 11 1 33 89 185|8 67 1 3 3 3 15 9 79 71|8 70 1 3 "
    "7 11 15 39 119 27|8 84 1 1 3 1 11 31 97 225|8 97 1 1 1 3 23 43 57 177|8 "
    "103 1 3 7 7 17 17 37 71|8 115 1 3 1 5 27 63 123 213|8 122 1 1 3 5 11 43 "
    "53 133|9 8 1 3 5 5 29 17 47 173 479|9 13 1 3 3 11 3 1 109 9 69|9 16 1 1 "
    "1 5 17 39 23 5 343|9 22 1 3 1 5 25 15 31 103 499";

constexpr int kBits = 32;

// The 32 direction numbers of each dimension, scaled to 32-bit words.
std::vector<std::vector<uint32_t>> DirectionNumbers(int dimensions) {
  std::vector<std::vector<uint32_t>> v;
  const int sobol_dims = std::min(dimensions, kSobolMaxDims);
  if (sobol_dims >= 1) {
    std::vector<uint32_t> first(kBits);
    for (int b = 0; b < kBits; ++b) first[b] = 1u << (kBits - 1 - b);
    v.push_back(std::move(first));
  }
  std::string table(kJoeKuo);
  std::replace(table.begin(), table.end(), '|', '\n');
  std::istringstream rows(table);
  std::string row;
  while (static_cast<int>(v.size()) < sobol_dims && std::getline(rows, row)) {
    std::istringstream fields(row);
    int s = 0;
    uint32_t a = 0;
    fields >> s >> a;
    std::vector<uint32_t> m(kBits);
    for (int i = 0; i < s; ++i) fields >> m[i];
    // Bratley and Fox's recurrence on the m_i.
    for (int i = s; i < kBits; ++i) {
      uint32_t next = m[i - s] ^ (m[i - s] << s);
      for (int k = 1; k < s; ++k) {
        if ((a >> (s - 1 - k)) & 1u) next ^= m[i - k] << k;
      }
      m[i] = next;
    }
    std::vector<uint32_t> scaled(kBits);
    for (int b = 0; b < kBits; ++b) scaled[b] = m[b] << (kBits - 1 - b);
    v.push_back(std::move(scaled));
  }
  return v;
}

}  // namespace

SobolSequence::SobolSequence(int dimensions, uint64_t seed)
    : dimensions_(dimensions),
      direction_(DirectionNumbers(dimensions)),
      engine_(SplitMix64(seed)) {
  for (size_t j = 0; j < direction_.size(); ++j) {
    shift_.push_back(static_cast<uint32_t>(engine_() >> 32));
  }
}

std::vector<double> SobolSequence::Point(uint32_t index) {
  std::vector<double> point(dimensions_);
  for (size_t j = 0; j < direction_.size(); ++j) {
    uint32_t x = shift_[j];
    // Direct (not Gray-code) construction: XOR of the direction numbers of
    // the set bits of the index, so points can be asked for in any order.
    for (int b = 0; b < kBits && (index >> b) != 0; ++b) {
      if ((index >> b) & 1u) x ^= direction_[j][b];
    }
    point[j] = static_cast<double>(x) * 0x1.0p-32;
  }
  for (int j = static_cast<int>(direction_.size()); j < dimensions_; ++j) {
    point[j] = UniformDouble(engine_);
  }
  return point;
}

}  // namespace vernier::algorithms::gp
