#include "algorithms/gp/refit_schedule.h"

#include <algorithm>
#include <vector>

namespace vernier::algorithms::gp {
namespace {

constexpr int kEveryTrialUpTo = 50;
constexpr int kAnchorEvery = 4;

// The geometric points, kEveryTrialUpTo first, up to 2^30.
const std::vector<int>& GeometricPoints() {
  static const std::vector<int>* const points = [] {
    auto* p = new std::vector<int>{kEveryTrialUpTo};
    while (p->back() < (1 << 30)) {
      // n + ceil(n / 10), in integers so every platform agrees.
      p->push_back(p->back() + (p->back() + 9) / 10);
    }
    return p;
  }();
  return *points;
}

}  // namespace

bool IsSchedulePoint(int n) {
  if (n < 2) return false;
  if (n <= kEveryTrialUpTo) return true;
  const std::vector<int>& g = GeometricPoints();
  return std::binary_search(g.begin(), g.end(), n);
}

int LastSchedulePoint(int n) {
  if (n < 2) return 0;
  if (n <= kEveryTrialUpTo) return n;
  const std::vector<int>& g = GeometricPoints();
  return *(std::upper_bound(g.begin(), g.end(), n) - 1);
}

int PreviousSchedulePoint(int s) { return s <= 2 ? 0 : LastSchedulePoint(s - 1); }

bool IsAnchor(int s) {
  if (s <= kEveryTrialUpTo) return s == 2 || s % 10 == 0;
  const std::vector<int>& g = GeometricPoints();
  const auto it = std::lower_bound(g.begin(), g.end(), s);
  return it != g.end() && *it == s && (it - g.begin()) % kAnchorEvery == 0;
}

}  // namespace vernier::algorithms::gp
