# ONNX backend node tests (Debian libonnx-testdata) through `relscope conformance`.
#
# Every folder is run: models using an op relscope does not implement report
# UNSUPPORTED and do not fail; every other folder must PASS unless
# tests/conformance_known.txt lists it with a reason. Runs natively and, in the
# wasm build, under node (CMAKE_CROSSCOMPILING_EMULATOR).
set(RELSCOPE_ONNX_NODE_TESTS /usr/share/libonnx-testdata/data/node)
if(EXISTS ${RELSCOPE_ONNX_NODE_TESTS})
  file(GLOB RELSCOPE_CONFORMANCE_DIRS LIST_DIRECTORIES true ${RELSCOPE_ONNX_NODE_TESTS}/test_*)
  add_test(NAME conformance
           COMMAND relscope conformance --quiet --known ${CMAKE_SOURCE_DIR}/tests/conformance_known.txt
                   ${RELSCOPE_CONFORMANCE_DIRS})
else()
  message(WARNING "libonnx-testdata is not installed: the conformance test is skipped (scripts/setup.sh installs it)")
endif()

# The CLI's exit codes and error lines (tests/cli/cli_test.sh), natively or under node.
if(EMSCRIPTEN)
  add_test(NAME cli COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/cli_test.sh /usr/bin/node $<TARGET_FILE:relscope>)
else()
  add_test(NAME cli COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/cli_test.sh $<TARGET_FILE:relscope>)
endif()

# relscope's relevance against the zennit-0.5-faithful references in tests/data/relevance
# (tests/cli/zennit_reference_test.sh; needs /usr/bin/python3 with numpy), natively or under node.
if(EMSCRIPTEN)
  add_test(NAME zennit_reference
           COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/zennit_reference_test.sh /usr/bin/node $<TARGET_FILE:relscope>)
else()
  add_test(NAME zennit_reference COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/zennit_reference_test.sh $<TARGET_FILE:relscope>)
endif()
