// The lexer of the attestation policy language (attestation_policy.h).
// Internal to vouch_policy; exposed for its tests.
#ifndef VOUCH_POLICY_ATTESTATION_POLICY_LEXER_H_
#define VOUCH_POLICY_ATTESTATION_POLICY_LEXER_H_

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vouch/policy/attestation_policy.h"

namespace vouch::policy::internal {

enum class TokenKind {
  kEnd,
  kIdentifier,
  kString,
  kNumber,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kLeftParen,
  kRightParen,
  kSemicolon,
  kColon,
  kComma,
  kDot,
  kAssign,  // =
  kArrow,   // =>
  kAnd,     // &&
  kNot,     // !
  kEqual,
  kNotEqual,
  kLess,
  kLessOrEqual,
  kGreater,
  kGreaterOrEqual,
};

// TokenKindName describes a kind for error messages: "'{'", "string literal".
std::string_view TokenKindName(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::kEnd;
  // Identifier name, decoded string literal, or number as written.
  std::string text;
  SourcePosition position;
  size_t begin = 0;  // byte offsets into the policy text
  size_t end = 0;
};

// Tokenize splits `text` into tokens, skipping whitespace, `//` line
// comments and `/* */` block comments, and ends with one kEnd token. It
// returns InvalidArgument with line:column for a character that starts no
// token, invalid UTF-8, an unterminated string or comment, a control
// character or line break inside a string, a bad escape, or a string longer
// than limits.max_string_bytes.
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view text,
                                            const AttestationPolicyLimits& limits);

// PolicyError formats "attestation policy <line>:<column>: <message>".
template <typename... Args>
absl::Status PolicyError(SourcePosition at, fmt::format_string<Args...> format, Args&&... args) {
  return absl::InvalidArgumentError(fmt::format("attestation policy {}:{}: {}", at.line, at.column,
                                                fmt::format(format, std::forward<Args>(args)...)));
}

}  // namespace vouch::policy::internal

#endif  // VOUCH_POLICY_ATTESTATION_POLICY_LEXER_H_
