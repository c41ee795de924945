// relscope/io/input_file.cpp — .npy / .csv INPUT files (see input_file.h).
#include "io/input_file.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "io/csv.h"
#include "io/npy.h"

namespace relscope {

namespace {
bool ends_with_csv(const std::string& name) {
  if (name.size() < 4) return false;
  std::string ext = name.substr(name.size() - 4);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".csv";
}
}  // namespace

Tensor read_array_input(const uint8_t* bytes, size_t size, const std::string& label, const Shape& declared,
                        const Limits& limits) {
  Tensor t;
  if (size >= 6 && std::memcmp(bytes, "\x93NUMPY", 6) == 0) {
    t = read_npy(bytes, size, limits, label);
  } else if (ends_with_csv(label)) {
    if (size > limits.max_file_bytes)
      fail(ErrorKind::Limit, label + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                                 std::to_string(limits.max_file_bytes));
    t = table_to_tensor(read_csv(std::string_view(reinterpret_cast<const char*>(bytes), size), label, limits), declared);
  } else {
    // The .npy reader's message says what was expected of a .npy file.
    t = read_npy(bytes, size, limits, label);
  }
  require_usable_input(t, label);
  return t;
}

void require_usable_input(const Tensor& t, const std::string& label) {
  if (t.numel() == 0) fail_input(label + ": has no elements (shape " + shape_str(t.shape) + ")");
  if (const size_t k = first_non_finite(t.f); k < t.f.size())
    fail_input(label + ": holds " + (std::isnan(t.f[k]) ? "NaN" : "Inf") + " at element " + std::to_string(k) +
               "; relscope needs finite inputs");
}

}  // namespace relscope
