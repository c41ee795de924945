// tests/unit/expect_error.h — assert that a call throws relscope::Error of a kind, with a message part.
//
// Why a helper: error kinds decide CLI exit codes and messages are what users
// read, so tests check both, and print the whole message when either is wrong.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace relscope::testing {

template <class F>
void expect_error(F&& f, ErrorKind kind, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing: " << part;
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "message: " << e.what() << "\nwanted: " << part;
  }
}

}  // namespace relscope::testing
