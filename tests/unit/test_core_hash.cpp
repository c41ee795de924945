// core/hash.h: xxh64 equals the reference implementation (values from xxhsum -H1 of Debian's xxhash 0.8),
// through every path of the algorithm (under 32 bytes; 32-byte stripes with 8-, 4- and 1-byte tails); KeyHash
// separates parts and their order.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/hash.h"

namespace relscope {
namespace {

uint64_t of(const std::string& s) { return xxh64(s.data(), s.size()); }

TEST(CoreHash, Xxh64MatchesTheReference) {
  EXPECT_EQ(of(""), 0xef46db3751d8e999ull);
  EXPECT_EQ(xxh64(nullptr, 0), 0xef46db3751d8e999ull);   // an empty vector's data() (UBSan checks no offset is applied)
  EXPECT_EQ(of("abc"), 0x44bc2cf5ad770999ull);                          // < 32 bytes: 1-byte tail only
  EXPECT_EQ(of(std::string(100, 'x')), 0x92f0de5a88a3c094ull);          // 3 stripes + 4-byte tail
  EXPECT_EQ(of(std::string(1000, '\0')), 0x0e2b1ef27944075aull);        // 31 stripes + 8-byte tail
  EXPECT_EQ(of(std::string(47, 'y')), 0xcbde35ad1b51a948ull);           // 1 stripe + 8 + 4 + 3
  EXPECT_EQ(of("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"), 0x7639d419de614eedull);
}

TEST(CoreHash, EverySingleBitFlipChangesTheHash) {
  std::vector<unsigned char> bytes(600);
  for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = static_cast<unsigned char>(k * 37 + 11);
  const uint64_t base = xxh64(bytes.data(), bytes.size());
  for (size_t k = 0; k < bytes.size(); ++k)
    for (int bit = 0; bit < 8; ++bit) {
      bytes[k] ^= static_cast<unsigned char>(1u << bit);
      ASSERT_NE(xxh64(bytes.data(), bytes.size()), base) << "byte " << k << " bit " << bit;
      bytes[k] ^= static_cast<unsigned char>(1u << bit);
    }
}

TEST(CoreHash, KeyHashSeparatesPartsAndOrder) {
  auto key = [](std::initializer_list<std::string> parts) {
    KeyHash h;
    for (const auto& p : parts) h.add(p);
    return h.h;
  };
  EXPECT_EQ(key({"ab", "c"}), key({"ab", "c"}));
  EXPECT_NE(key({"ab", "c"}), key({"a", "bc"}));
  EXPECT_NE(key({"ab", "c"}), key({"c", "ab"}));
  EXPECT_NE(key({"ab", ""}), key({"ab"}));
  KeyHash a, b;
  a.add(uint64_t{1}), b.add(uint64_t{2});
  EXPECT_NE(a.h, b.h);
}

}  // namespace
}  // namespace relscope
