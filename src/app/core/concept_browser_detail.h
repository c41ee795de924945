// relscope/app/core/concept_browser_detail.h — what the concept browser's source files share (not an API).
#pragma once
#include <exception>
#include <new>
#include <string>

#include "core/error.h"

namespace relscope::app::detail {

// Runs fn; a failure becomes a one-line message (the previous results stay). True on success.
template <class F>
bool attempt(std::string& error, F&& fn) {
  try {
    fn();
    return true;
  } catch (const Error& e) {
    error = e.what();
  } catch (const std::bad_alloc&) {
    error = "out of memory: the concept browser's last step was too large for this tab";
  } catch (const std::exception& e) {
    error = std::string("internal error: ") + e.what();
  }
  return false;
}

}  // namespace relscope::app::detail
