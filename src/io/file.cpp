// relscope/io/file.cpp — read_file_bytes / write_file_bytes over stdio.
//
// Sections: read_file_bytes | write_file_bytes
//
// stdio rather than iostreams: errno gives the reason users need ("No such file
// or directory", "Is a directory"), and it works unchanged under Emscripten's NODERAWFS.
#include "io/file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace relscope {

namespace {
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

[[noreturn]] void fail_io(const std::string& path, const char* verb, int err) {
  fail_input(path + ": cannot " + verb + " (" + std::strerror(err) + ")");
}
}  // namespace

// ---- read_file_bytes --------------------------------------------------------------------------

namespace {

// Reads all of `path` into a Bytes (std::vector<uint8_t> or ByteBuffer) made with its size.
template <class Bytes>
Bytes read_whole(const std::string& path, uint64_t max_bytes) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) fail_io(path, "open", errno);
  struct stat st {};
  if (fstat(fileno(f.get()), &st) != 0) fail_io(path, "open", errno);
  // fopen succeeds on a directory on Linux; the read would fail with a less clear message.
  if (S_ISDIR(st.st_mode)) fail_io(path, "open", EISDIR);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    fail(ErrorKind::Limit, path + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                               std::to_string(max_bytes));
  Bytes bytes(static_cast<size_t>(size));
  const size_t got = size == 0 ? 0 : std::fread(bytes.data(), 1, bytes.size(), f.get());
  if (got != bytes.size()) {
    if (std::ferror(f.get())) fail_io(path, "read", errno);
    fail_input(path + ": cannot read (file shrank from " + std::to_string(size) + " to " + std::to_string(got) +
               " bytes while reading)");
  }
  return bytes;
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes) {
  return read_whole<std::vector<uint8_t>>(path, max_bytes);
}

ByteBuffer read_file_buffer(const std::string& path, uint64_t max_bytes) {
  return read_whole<ByteBuffer>(path, max_bytes);
}

// ---- write_file_bytes -------------------------------------------------------------------------

void write_file_bytes(const std::string& path, const uint8_t* data, size_t size) {
  FilePtr f(std::fopen(path.c_str(), "wb"));
  if (!f) fail_io(path, "write", errno);
  if (size && std::fwrite(data, 1, size, f.get()) != size) fail_io(path, "write", errno);
  // fclose flushes; a full disk often shows up only here.
  if (std::fclose(f.release()) != 0) fail_io(path, "write", errno);
}

}  // namespace relscope
