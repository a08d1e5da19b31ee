// Readers for Wycheproof test vector files, shared by the known-answer tests.
#ifndef VOUCH_CRYPTO_WYCHEPROOF_JSON_H_
#define VOUCH_CRYPTO_WYCHEPROOF_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "vouch/base/bytes.h"

namespace vouch::crypto::wycheproof {

// HexMember decodes a hex string member, failing the test when it is missing.
Bytes HexMember(const nlohmann::json& object, const char* name);

// StringMember returns a string member, or "" when it is missing.
std::string StringMember(const nlohmann::json& object, const char* name);

// IntMember returns an integer member, or -1 when it is missing.
int IntMember(const nlohmann::json& object, const char* name);

// ReadDocument reads a vector file below the vectors folder and fails the
// test unless it is an object with a "testGroups" array.
nlohmann::json ReadDocument(const std::string& path);

}  // namespace vouch::crypto::wycheproof

#endif  // VOUCH_CRYPTO_WYCHEPROOF_JSON_H_
