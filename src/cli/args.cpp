// relscope/cli/args.cpp — strict option parsing (see args.h).
#include "cli/args.h"

#include <cstdlib>

#include "core/error.h"

namespace relscope::cli {

std::string Args::get(const std::string& k, const std::string& fallback) const {
  auto it = options.find(k);
  return it == options.end() ? fallback : it->second;
}

long long Args::get_int(const std::string& k, long long fallback) const {
  auto it = options.find(k);
  if (it == options.end()) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end) fail_input("--" + k + ": '" + it->second + "' is not an integer");
  return v;
}

double Args::get_double(const std::string& k, double fallback) const {
  auto it = options.find(k);
  if (it == options.end()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end) fail_input("--" + k + ": '" + it->second + "' is not a number");
  return v;
}

Args parse_args(int argc, char** argv, int first, const std::set<std::string>& value_options,
                const std::set<std::string>& flag_options) {
  Args a;
  for (int k = first; k < argc; ++k) {
    std::string s = argv[k];
    if (s.size() > 2 && s.rfind("--", 0) == 0) {
      std::string key = s.substr(2), value;
      const auto eq = key.find('=');
      if (eq != std::string::npos) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
      }
      if (flag_options.count(key)) {
        a.options[key] = "1";
      } else if (value_options.count(key)) {
        if (eq == std::string::npos) {
          if (k + 1 >= argc) fail_input("option --" + key + " needs a value");
          value = argv[++k];
        }
        a.options[key] = value;
      } else {
        fail_input("unknown option --" + key);
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

}  // namespace relscope::cli
