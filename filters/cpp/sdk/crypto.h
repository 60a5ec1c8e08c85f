// SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and unpadded base64url (RFC 4648 §5), our own
// code with no dependencies, compiled into both the wasm and the native builds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace crypto {

class Sha256 {
 public:
  static constexpr size_t kDigestSize = 32;
  static constexpr size_t kBlockSize = 64;

  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  void finish(uint8_t out[kDigestSize]);

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[kBlockSize];
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

// HMAC-SHA256 keyed once; copy the object to authenticate each message.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  void update(std::string_view s) { inner_.update(s); }
  void finish(uint8_t out[Sha256::kDigestSize]);
  // Finishes and compares with `tag` in constant time (for equal lengths).
  bool verify(std::string_view tag);

 private:
  Sha256 inner_;
  Sha256 outer_;
};

// Decodes base64url without padding, strictly: no '=', no other alphabet, no length ≡ 1 mod 4,
// and the unused bits of the last symbol must be zero (canonical encoding only).
bool base64UrlDecode(std::string_view in, std::string& out);

}  // namespace crypto
