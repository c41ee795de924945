// relscope/cli/limit_args.h — the resource-limit flags every command takes (--max-memory, ...).
//
// Why separate from each command's options: limits apply to every command alike (a hostile file can
// reach any of them), so main() strips these flags once and sets the process-wide defaults
// (core/limits.h) that every Limits{} then carries.
#pragma once

namespace relscope::cli {

// Removes --max-memory MIB, --max-elements N, --max-file-size MIB and --max-image-pixels N from argv
// (compacting it) and applies them to limit_defaults(). Returns the new argc. BadInput on a value that
// is not a positive integer.
int apply_limit_flags(int argc, char** argv);

// One usage line per flag, for --help.
extern const char* const kLimitUsage;

}  // namespace relscope::cli
