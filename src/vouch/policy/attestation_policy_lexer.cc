#include "vouch/policy/attestation_policy_lexer.h"

#include <cstdint>

#include "vouch/base/status.h"

namespace vouch::policy::internal {
namespace {

bool IsIdentifierStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsIdentifierPart(char c) { return IsIdentifierStart(c) || IsDigit(c); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Utf8SequenceLength returns the length of the well-formed UTF-8 sequence
// at the start of `text` (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF), or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto continuation = [&](size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t lead = byte(0);
  if (lead < 0x80) {
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    return continuation(1) ? 2 : 0;
  }
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!continuation(1) || !continuation(2)) {
      return 0;
    }
    const uint8_t second = byte(1);
    if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F)) {
      return 0;
    }
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) {
      return 0;
    }
    const uint8_t second = byte(1);
    if ((lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F)) {
      return 0;
    }
    return 4;
  }
  return 0;
}

void AppendUtf8(uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

class Lexer {
 public:
  Lexer(std::string_view text, const AttestationPolicyLimits& limits)
      : text_(text), limits_(limits) {}

  absl::StatusOr<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    while (true) {
      VOUCH_RETURN_IF_ERROR(SkipSpaceAndComments());
      Token token;
      token.position = position_;
      token.begin = offset_;
      if (offset_ == text_.size()) {
        token.end = offset_;
        tokens.push_back(std::move(token));
        return tokens;
      }
      VOUCH_RETURN_IF_ERROR(Next(token));
      token.end = offset_;
      tokens.push_back(std::move(token));
    }
  }

 private:
  char Peek(size_t ahead = 0) const {
    return offset_ + ahead < text_.size() ? text_[offset_ + ahead] : '\0';
  }
  bool AtEnd() const { return offset_ >= text_.size(); }

  // Advance moves over `count` bytes, none of which is a line break unless
  // count is 1.
  void Advance(size_t count = 1) {
    for (size_t i = 0; i < count; ++i) {
      if (text_[offset_] == '\n') {
        ++position_.line;
        position_.column = 1;
      } else {
        ++position_.column;
      }
      ++offset_;
    }
  }

  absl::Status SkipSpaceAndComments() {
    while (!AtEnd()) {
      const char c = Peek();
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        Advance();
      } else if (c == '/' && Peek(1) == '/') {
        while (!AtEnd() && Peek() != '\n') {
          VOUCH_RETURN_IF_ERROR(AdvanceOverCommentCharacter());
        }
      } else if (c == '/' && Peek(1) == '*') {
        VOUCH_RETURN_IF_ERROR(SkipBlockComment());
      } else {
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  absl::Status SkipBlockComment() {
    const SourcePosition start = position_;
    Advance(2);
    while (!AtEnd()) {
      if (Peek() == '*' && Peek(1) == '/') {
        Advance(2);
        return absl::OkStatus();
      }
      VOUCH_RETURN_IF_ERROR(AdvanceOverCommentCharacter());
    }
    return PolicyError(start, "unterminated block comment: no '*/' before the end of the policy");
  }

  absl::Status AdvanceOverCommentCharacter() {
    const size_t length = Utf8SequenceLength(text_.substr(offset_));
    if (length == 0) {
      return PolicyError(position_, "invalid UTF-8 byte 0x{:02x}", static_cast<uint8_t>(Peek()));
    }
    if (length == 1) {
      Advance();
    } else {
      offset_ += length;
      ++position_.column;
    }
    return absl::OkStatus();
  }

  absl::Status Next(Token& token) {
    const char c = Peek();
    if (IsIdentifierStart(c)) {
      token.kind = TokenKind::kIdentifier;
      while (IsIdentifierPart(Peek())) {
        token.text.push_back(Peek());
        Advance();
      }
      if (token.text.size() > limits_.max_string_bytes) {
        return PolicyError(token.position, "identifier of {} bytes, max {}", token.text.size(),
                           limits_.max_string_bytes);
      }
      return absl::OkStatus();
    }
    if (IsDigit(c) || (c == '-' && IsDigit(Peek(1)))) {
      return Number(token);
    }
    if (c == '"') {
      return String(token);
    }
    return Punctuation(token);
  }

  // Number reads -?digits(.digits)?([eE][+-]?digits)?; the parser converts it.
  absl::Status Number(Token& token) {
    token.kind = TokenKind::kNumber;
    const auto take_digits = [&] {
      while (IsDigit(Peek())) {
        token.text.push_back(Peek());
        Advance();
      }
    };
    if (Peek() == '-') {
      token.text.push_back('-');
      Advance();
    }
    take_digits();
    if (Peek() == '.' && IsDigit(Peek(1))) {
      token.text.push_back('.');
      Advance();
      take_digits();
    }
    if (Peek() == 'e' || Peek() == 'E') {
      token.text.push_back('e');
      Advance();
      if (Peek() == '+' || Peek() == '-') {
        token.text.push_back(Peek());
        Advance();
      }
      if (!IsDigit(Peek())) {
        return PolicyError(position_, "number {} has an exponent without digits", token.text);
      }
      take_digits();
    }
    if (IsIdentifierPart(Peek())) {
      return PolicyError(position_, "unexpected '{}' after number {}", Peek(), token.text);
    }
    if (token.text.size() > 64) {
      return PolicyError(token.position, "number of {} characters, max 64", token.text.size());
    }
    return absl::OkStatus();
  }

  absl::Status String(Token& token) {
    token.kind = TokenKind::kString;
    Advance();  // opening quote
    while (true) {
      if (AtEnd()) {
        return PolicyError(token.position, "unterminated string literal");
      }
      const char c = Peek();
      if (c == '"') {
        Advance();
        return absl::OkStatus();
      }
      if (c == '\n' || c == '\r') {
        return PolicyError(token.position, "unterminated string literal: line break before '\"'");
      }
      if (static_cast<uint8_t>(c) < 0x20 || c == 0x7f) {
        return PolicyError(position_, "control character 0x{:02x} in string literal; write it "
                           "as an escape",
                           static_cast<uint8_t>(c));
      }
      if (c == '\\') {
        VOUCH_RETURN_IF_ERROR(Escape(token.text));
      } else {
        const size_t length = Utf8SequenceLength(text_.substr(offset_));
        if (length == 0) {
          return PolicyError(position_, "invalid UTF-8 byte 0x{:02x} in string literal",
                             static_cast<uint8_t>(c));
        }
        token.text.append(text_.substr(offset_, length));
        offset_ += length;
        ++position_.column;
      }
      if (token.text.size() > limits_.max_string_bytes) {
        return PolicyError(token.position, "string literal longer than {} bytes",
                           limits_.max_string_bytes);
      }
    }
  }

  // Escape decodes \" \\ \/ \b \f \n \r \t and \uXXXX (surrogate pairs
  // joined), as JSON strings do.
  absl::Status Escape(std::string& out) {
    const SourcePosition at = position_;
    Advance();  // backslash
    const char c = Peek();
    switch (c) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        Advance();
        VOUCH_ASSIGN_OR_RETURN(uint32_t code_point, Hex4(at));
        if (code_point >= 0xD800 && code_point <= 0xDBFF) {
          if (Peek() != '\\' || Peek(1) != 'u') {
            return PolicyError(at, "\\u escape of a high surrogate without a low surrogate");
          }
          Advance(2);
          VOUCH_ASSIGN_OR_RETURN(const uint32_t low, Hex4(at));
          if (low < 0xDC00 || low > 0xDFFF) {
            return PolicyError(at, "\\u escape of a high surrogate without a low surrogate");
          }
          code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
        } else if (code_point >= 0xDC00 && code_point <= 0xDFFF) {
          return PolicyError(at, "\\u escape of a lone low surrogate");
        }
        AppendUtf8(code_point, out);
        return absl::OkStatus();
      }
      default:
        if (c == '\0' && AtEnd()) {
          return PolicyError(at, "unterminated string literal");
        }
        return PolicyError(at, "invalid escape '\\{}' in string literal", c);
    }
    Advance();
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> Hex4(SourcePosition at) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = HexValue(Peek());
      if (digit < 0) {
        return PolicyError(at, "\\u escape needs 4 hex digits");
      }
      value = value * 16 + static_cast<uint32_t>(digit);
      Advance();
    }
    return value;
  }

  absl::Status Punctuation(Token& token) {
    const char c = Peek();
    const char next = Peek(1);
    const auto two = [&](TokenKind kind) {
      token.kind = kind;
      Advance(2);
      return absl::OkStatus();
    };
    const auto one = [&](TokenKind kind) {
      token.kind = kind;
      Advance();
      return absl::OkStatus();
    };
    switch (c) {
      case '{': return one(TokenKind::kLeftBrace);
      case '}': return one(TokenKind::kRightBrace);
      case '[': return one(TokenKind::kLeftBracket);
      case ']': return one(TokenKind::kRightBracket);
      case '(': return one(TokenKind::kLeftParen);
      case ')': return one(TokenKind::kRightParen);
      case ';': return one(TokenKind::kSemicolon);
      case ':': return one(TokenKind::kColon);
      case ',': return one(TokenKind::kComma);
      case '.': return one(TokenKind::kDot);
      case '=':
        if (next == '=') {
          return two(TokenKind::kEqual);
        }
        if (next == '>') {
          return two(TokenKind::kArrow);
        }
        return one(TokenKind::kAssign);
      case '!':
        return next == '=' ? two(TokenKind::kNotEqual) : one(TokenKind::kNot);
      case '<':
        return next == '=' ? two(TokenKind::kLessOrEqual) : one(TokenKind::kLess);
      case '>':
        return next == '=' ? two(TokenKind::kGreaterOrEqual) : one(TokenKind::kGreater);
      case '&':
        if (next == '&') {
          return two(TokenKind::kAnd);
        }
        return PolicyError(position_, "unexpected '&'; conditions are joined with '&&'");
      default:
        break;
    }
    const uint8_t byte = static_cast<uint8_t>(c);
    if (byte >= 0x21 && byte < 0x7f) {
      return PolicyError(position_, "unexpected character '{}'", c);
    }
    return PolicyError(position_, "unexpected byte 0x{:02x}", byte);
  }

  std::string_view text_;
  const AttestationPolicyLimits& limits_;
  size_t offset_ = 0;
  SourcePosition position_{1, 1};
};

}  // namespace

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEnd: return "end of policy";
    case TokenKind::kIdentifier: return "identifier";
    case TokenKind::kString: return "string literal";
    case TokenKind::kNumber: return "number";
    case TokenKind::kLeftBrace: return "'{'";
    case TokenKind::kRightBrace: return "'}'";
    case TokenKind::kLeftBracket: return "'['";
    case TokenKind::kRightBracket: return "']'";
    case TokenKind::kLeftParen: return "'('";
    case TokenKind::kRightParen: return "')'";
    case TokenKind::kSemicolon: return "';'";
    case TokenKind::kColon: return "':'";
    case TokenKind::kComma: return "','";
    case TokenKind::kDot: return "'.'";
    case TokenKind::kAssign: return "'='";
    case TokenKind::kArrow: return "'=>'";
    case TokenKind::kAnd: return "'&&'";
    case TokenKind::kNot: return "'!'";
    case TokenKind::kEqual: return "'=='";
    case TokenKind::kNotEqual: return "'!='";
    case TokenKind::kLess: return "'<'";
    case TokenKind::kLessOrEqual: return "'<='";
    case TokenKind::kGreater: return "'>'";
    case TokenKind::kGreaterOrEqual: return "'>='";
  }
  return "token";
}

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view text,
                                            const AttestationPolicyLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return PolicyError({1, 1}, "policy of {} bytes, max {}", text.size(), limits.max_bytes);
  }
  return Lexer(text, limits).Run();
}

}  // namespace vouch::policy::internal
