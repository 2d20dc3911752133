// Lattice: a finite set of assignments, the Cartesian product of one list of
// values per parameter, numbered in mixed radix with the first parameter
// slowest (lexicographic in list order). Grid search walks the lattice of
// grid values; random search enumerates small finite spaces with it.
// Integer ranges are held as ranges, so a long one costs no memory.
//
// Thread-safe: immutable after construction.
#ifndef VERNIER_ALGORITHMS_LATTICE_H_
#define VERNIER_ALGORITHMS_LATTICE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "algorithms/search_space.h"
#include "google/protobuf/struct.pb.h"

namespace vernier::algorithms {

class Lattice final {
 public:
  // One parameter's list of values. Build it with the functions below.
  struct Dimension {
    std::string name;
    // When numbers and strings are both empty: the integers first,
    // first + 1, ..., first + count - 1.
    double first = 0;
    int64_t count = 0;
    // Strictly increasing.
    std::vector<double> numbers;
    // Distinct; position -> string, and the positions sorted by string.
    std::vector<std::string> strings;
    std::vector<int> string_order;
  };

  // The integers [first, first + count), count >= 1.
  static Dimension Integers(std::string name, double first, int64_t count);
  // `increasing` non-empty and strictly increasing.
  static Dimension Numbers(std::string name, std::vector<double> increasing);
  // `distinct` non-empty with no repeats.
  static Dimension Strings(std::string name, std::vector<std::string> distinct);
  // Numbers or Strings from a list such as SearchSpace::GridValues returns:
  // all strings, or all numbers in strictly increasing order.
  static Dimension FromValues(
      std::string name, const std::vector<google::protobuf::Value>& values);

  // How many values a dimension lists.
  static int64_t DimensionSize(const Dimension& dimension);

  // Precondition: the product of the dimensions' sizes fits in int64.
  explicit Lattice(std::vector<Dimension> dimensions);

  // How many points; 1 for no dimensions (the empty assignment).
  int64_t size() const { return size_; }

  // The position of each parameter's value in its list at point `index`,
  // 0 <= index < size().
  std::vector<int64_t> Digits(int64_t index) const;

  // The assignment at point `index`, 0 <= index < size().
  Assignment At(int64_t index) const;

  // The index of `assignment` when each parameter holds a listed value (by
  // exact equality; extra parameters are ignored), nullopt otherwise.
  std::optional<int64_t> IndexOf(const Assignment& assignment) const;

 private:
  static google::protobuf::Value ValueAt(const Dimension& dimension,
                                         int64_t position);
  static std::optional<int64_t> PositionOf(
      const Dimension& dimension, const google::protobuf::Value& value);

  std::vector<Dimension> dimensions_;
  int64_t size_ = 1;
};

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_LATTICE_H_
