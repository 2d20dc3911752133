// Encoding: how the GP sees a point of the search space's unit cube.
//
// Each parameter gives one feature:
//   DOUBLE       its unit coordinate;
//   INT          the unit coordinate of its integer's centre (what
//                SearchSpace::ToUnit gives), so every point of one integer's
//                cell has the same feature: rounding happens before the model
//                is asked, inside the acquisition;
//   DISCRETE     the centre of its value's cell, likewise;
//   CATEGORICAL  the category's index, which the kernel only compares for
//                equality (kernel.h).
// The decoding rules are SearchSpace's (search_space.h), so Unit(Features(u))
// decodes to the same assignment as u.
//
// Thread-safe: immutable after construction.
#ifndef VERNIER_ALGORITHMS_GP_ENCODING_H_
#define VERNIER_ALGORITHMS_GP_ENCODING_H_

#include <vector>

#include "Eigen/Core"
#include "algorithms/search_space.h"

namespace vernier::algorithms::gp {

class Encoding final {
 public:
  explicit Encoding(const SearchSpace& space);

  int dimensions() const { return static_cast<int>(kinds_.size()); }
  // Per feature: true for a categorical (compared by equality).
  const std::vector<bool>& categorical() const { return categorical_; }
  // The features that vary continuously (DOUBLE parameters), in order.
  const std::vector<int>& continuous() const { return continuous_; }

  // The features of unit point `unit` (clamped to [0,1]).
  Eigen::VectorXd Features(const std::vector<double>& unit) const;
  // A unit point whose features are `features`.
  std::vector<double> Unit(const Eigen::Ref<const Eigen::VectorXd>& features) const;
  // Other values feature `j` (not continuous) may take near `feature`, for a
  // coordinate search: every category or value of a short list (up to 16),
  // otherwise the cells 1, 2, 4, 8, ... steps away on each side.
  std::vector<double> Neighbours(int j, double feature) const;

 private:
  enum class Kind { kDouble, kInt, kList, kCategorical };
  struct Dimension {
    Kind kind = Kind::kDouble;
    // kInt: the scale span and bounds; kList / kCategorical: the cell count.
    double lo = 0, hi = 1, min = 0, max = 0;
    bool log = false;
    int cells = 0;
  };
  // kInt: the integer that unit coordinate `u` decodes to, and its feature.
  static double IntegerOf(const Dimension& d, double u);
  static double IntegerFeature(const Dimension& d, double k);

  std::vector<Dimension> kinds_;
  std::vector<bool> categorical_;
  std::vector<int> continuous_;
};

}  // namespace vernier::algorithms::gp

#endif  // VERNIER_ALGORITHMS_GP_ENCODING_H_
