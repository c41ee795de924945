// relscope/io/csv.h — tables of numbers (.csv) as inputs: one row per sample.
//
// Sections: CsvTable | read_csv | table_to_tensor
//
// Why strict: a spreadsheet export with a missing or non-numeric cell must not become a zero or a NaN
// that the model then explains; every refusal names the line and column.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.h"
#include "core/tensor.h"

namespace relscope {

// ---- CsvTable ----
struct CsvTable {
  std::vector<std::string> header;          // the first line when it is not all numbers; else "f0", "f1", ...
  std::vector<std::vector<float>> rows;     // every row has header.size() values
};

// ---- read_csv ----
// Comma-separated; blank lines skipped; spaces and double quotes around a cell trimmed; "\r\n" accepted.
// BadInput "<label>: line L, column C: ..." for an empty cell, a cell that is not a number, or one that is
// not a finite float32; "<label>: line L: N values, expected M" for a ragged row; "no rows of numbers";
// "not a text file" for control bytes. More than limits.max_tensor_elements cells: Limit.
CsvTable read_csv(std::string_view text, const std::string& label, const Limits& limits);

// ---- table_to_tensor ----
// float32 [rows, columns], or [rows, d1, d2, ...] when `declared` (a graph input's declared shape, -1 for
// open dims) has fixed trailing dims d1.. whose product is the column count.
Tensor table_to_tensor(const CsvTable& t, const Shape& declared);

}  // namespace relscope
