// relscope/core/number_list.h — "a,b,c" lists of numbers, parsed strictly in one place for every front end
// (CLI flags, JS parameters, the app's text fields).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace relscope {

// Every comma-separated item must be a whole number as strtoll/strtof read it; empty items (and so an empty
// text) are refused. BadInput "<what>: '<text>' is not a comma-separated list of integers|numbers".
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what);
std::vector<float> parse_float_list(const std::string& text, const std::string& what);

}  // namespace relscope
