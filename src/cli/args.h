// relscope/cli/args.h — a small, strict command-line parser shared by every subcommand.
//
// Why strict: an unknown or misspelt flag is an error (exit 2), never ignored,
// so `--tagret 3` cannot silently explain the wrong class.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

namespace relscope::cli {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;   // "--top 5" -> {"top","5"}; flags map to "1"

  bool has(const std::string& k) const { return options.count(k) > 0; }
  std::string get(const std::string& k, const std::string& fallback) const;
  long long get_int(const std::string& k, long long fallback) const;
  double get_double(const std::string& k, double fallback) const;
};

// `value_options` take a value; `flag_options` do not. Throws relscope::Error(BadInput) on anything else.
Args parse_args(int argc, char** argv, int first, const std::set<std::string>& value_options,
                const std::set<std::string>& flag_options = {});

}  // namespace relscope::cli
