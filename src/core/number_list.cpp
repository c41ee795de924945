// relscope/core/number_list.cpp — strict comma-separated number lists.
#include "core/number_list.h"

#include <cstdlib>

#include "core/error.h"

namespace relscope {

namespace {

// Calls parse(item, &end) for each comma-separated item; an empty item or trailing text is an error.
template <class T, class Parse>
std::vector<T> parse_list(const std::string& text, const std::string& what, const char* kind, Parse parse) {
  std::vector<T> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    const T v = parse(item.c_str(), &end);
    if (item.empty() || *end) fail_input(what + ": '" + text + "' is not a comma-separated list of " + kind);
    out.push_back(v);
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

}  // namespace

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what) {
  return parse_list<int64_t>(text, what, "integers", [](const char* s, char** end) { return static_cast<int64_t>(std::strtoll(s, end, 10)); });
}

std::vector<float> parse_float_list(const std::string& text, const std::string& what) {
  return parse_list<float>(text, what, "numbers", [](const char* s, char** end) { return std::strtof(s, end); });
}

}  // namespace relscope
