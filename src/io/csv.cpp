// relscope/io/csv.cpp — strict .csv parsing (see csv.h).
//
// Sections: cells | read_csv | table_to_tensor
#include "io/csv.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/error.h"

namespace relscope {

namespace {

// ---- cells ------------------------------------------------------------------------------------

std::string_view trim(std::string_view c) {
  const auto a = c.find_first_not_of(" \t\"");
  if (a == std::string_view::npos) return {};
  return c.substr(a, c.find_last_not_of(" \t\"") - a + 1);
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

// Parses a whole cell as a number; false when it is not one (strtod must consume every character).
bool parse_number(std::string_view cell, double& v) {
  if (cell.empty() || cell.size() > 64) return false;
  const std::string s(cell);   // strtod needs a terminator
  char* end = nullptr;
  errno = 0;
  v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

std::string shown(std::string_view cell) {
  return "'" + std::string(cell.substr(0, 24)) + (cell.size() > 24 ? "...'" : "'");
}

}  // namespace

// ---- read_csv ---------------------------------------------------------------------------------

CsvTable read_csv(std::string_view text, const std::string& label, const Limits& limits) {
  for (size_t k = 0; k < text.size(); ++k) {
    const unsigned char c = static_cast<unsigned char>(text[k]);
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t')
      fail_input(label + ": not a text file (byte 0x" + "0123456789abcdef"[c >> 4] + "0123456789abcdef"[c & 15] +
                 " at offset " + std::to_string(k) + "); a .csv holds comma-separated numbers");
  }
  CsvTable t;
  uint64_t cells_total = 0;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const auto cells = split(line);
    const std::string at = label + ": line " + std::to_string(line_no);
    std::vector<double> values(cells.size());
    bool all_numbers = true;
    for (size_t c = 0; c < cells.size() && all_numbers; ++c) all_numbers = parse_number(cells[c], values[c]);
    if (!all_numbers && t.header.empty() && t.rows.empty()) {   // the first line names the columns
      for (auto c : cells) t.header.emplace_back(c);
      continue;
    }
    const size_t width = !t.header.empty() ? t.header.size() : !t.rows.empty() ? t.rows[0].size() : cells.size();
    if (cells.size() != width)
      fail_input(at + ": " + std::to_string(cells.size()) + " values, expected " + std::to_string(width));
    cells_total += width;
    if (cells_total > limits.max_tensor_elements)
      fail(ErrorKind::Limit, at + ": the table has more than " + std::to_string(limits.max_tensor_elements) +
                                 " cells, over the element limit");
    std::vector<float> row(width);
    for (size_t c = 0; c < width; ++c) {
      const std::string cell_at = at + ", column " + std::to_string(c + 1) + ": ";
      double v = 0;
      if (cells[c].empty()) fail_input(cell_at + "empty cell; every cell must hold a number");
      if (!parse_number(cells[c], v)) fail_input(cell_at + shown(cells[c]) + " is not a number");
      if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max())
        fail_input(cell_at + shown(cells[c]) + " is not a finite float32 number");
      row[c] = static_cast<float>(v);
    }
    t.rows.push_back(std::move(row));
  }
  if (t.rows.empty()) fail_input(label + ": no rows of numbers");
  if (t.header.empty())
    for (size_t k = 0; k < t.rows[0].size(); ++k) {
      std::string name = "f";   // (not "f" + to_string: g++ 12 -O3 warns falsely on that)
      name += std::to_string(k);
      t.header.push_back(std::move(name));
    }
  return t;
}

// ---- table_to_tensor --------------------------------------------------------------------------

Tensor table_to_tensor(const CsvTable& t, const Shape& declared) {
  const int64_t rows = static_cast<int64_t>(t.rows.size()), cols = static_cast<int64_t>(t.header.size());
  Shape shape = {rows, cols};
  if (declared.size() >= 2) {
    int64_t trailing = 1;
    bool fixed = true;
    for (size_t k = 1; k < declared.size(); ++k) fixed = fixed && declared[k] > 0, trailing *= std::max<int64_t>(declared[k], 1);
    if (fixed && trailing == cols) {
      shape = declared;
      shape[0] = rows;
    }
  }
  Tensor out = Tensor::zeros(shape);
  for (int64_t r = 0; r < rows; ++r) std::copy(t.rows[r].begin(), t.rows[r].end(), out.f.begin() + r * cols);
  return out;
}

}  // namespace relscope
