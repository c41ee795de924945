// relscope/core/hash.h — XXH64 (Yann Collet's xxHash, 64-bit) and a running hash of many parts built on it.
//
// Sections: xxh64() | KeyHash
//
// Why not FNV-1a: it takes one multiply per byte in a dependent chain, ~1 ms for a 224x224 RGB input
// natively and more in wasm, and keys are made per explanation (gpu_explain.cpp hashes the input and the
// steps of the kept forward pass). XXH64 reads 32 bytes per round in four independent lanes (~10x faster)
// and mixes better. The output is the reference's (tests/unit/test_core_hash.cpp checks xxhsum's values).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace relscope {

// ---- xxh64() -------------------------------------------------------------------------------------------------
namespace hash_detail {
constexpr uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full, P3 = 0x165667B19E3779F9ull,
                   P4 = 0x85EBCA77C2B2AE63ull, P5 = 0x27D4EB2F165667C5ull;
inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t read64(const unsigned char* p) {   // little-endian, as every target relscope builds for
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint32_t read32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t round(uint64_t acc, uint64_t in) { return rotl(acc + in * P2, 31) * P1; }
inline uint64_t merge(uint64_t acc, uint64_t v) { return (acc ^ round(0, v)) * P1 + P4; }
}  // namespace hash_detail

inline uint64_t xxh64(const void* data, size_t bytes, uint64_t seed = 0) {
  using namespace hash_detail;
  // Offsets, not pointers past the end: `data` may be null when `bytes` is 0 (an empty vector's data()).
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  uint64_t h;
  if (bytes >= 32) {
    uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    for (; i + 32 <= bytes; i += 32) {
      v1 = round(v1, read64(p + i)), v2 = round(v2, read64(p + i + 8));
      v3 = round(v3, read64(p + i + 16)), v4 = round(v4, read64(p + i + 24));
    }
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = seed + P5;
  }
  h += static_cast<uint64_t>(bytes);
  for (; i + 8 <= bytes; i += 8) h = rotl(h ^ round(0, read64(p + i)), 27) * P1 + P4;
  if (i + 4 <= bytes) h = rotl(h ^ (static_cast<uint64_t>(read32(p + i)) * P1), 23) * P2 + P3, i += 4;
  for (; i < bytes; ++i) h = rotl(h ^ (p[i] * P5), 11) * P1;
  h ^= h >> 33, h *= P2, h ^= h >> 29, h *= P3, h ^= h >> 32;
  return h;
}

// ---- KeyHash ---------------------------------------------------------------------------------------------------
// A hash of a sequence of parts (numbers, strings, byte ranges). Each part is hashed whole with its length, then
// chained: ("ab", "c") and ("a", "bc") differ, and so do parts in another order.
struct KeyHash {
  uint64_t h = 0;
  void add(const void* data, size_t bytes) { h = xxh64(data, bytes, h + bytes); }
  void add(uint64_t v) { add(&v, sizeof v); }
  void add(const std::string& s) { add(s.data(), s.size()); }
};

}  // namespace relscope
