// A small JSON reader for the tools (bench_plot): objects, arrays, strings (with \u escapes,
// surrogate pairs to UTF-8), numbers, true / false / null. Two extensions, because the
// files it reads use them: NaN, Infinity and -Infinity as numbers (Google Benchmark and
// Python's json.dump write them unquoted), and a lenient mode for files cut short (a
// benchmark killed by its timeout): at the end of the input every open container is closed,
// marked `truncated`, and keeps its complete elements; a scalar cut by the end is dropped.
// C++17, standard library only.
#pragma once

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mini_json {

struct Value {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0.0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;  // in file order
  bool truncated = false;                               // lenient mode: cut by the end of input

  bool is_object() const { return type == Type::kObject; }
  bool is_array() const { return type == Type::kArray; }
  bool is_number() const { return type == Type::kNumber; }
  bool is_string() const { return type == Type::kString; }

  /// \brief The member `key` of an object (the last one when repeated), or nullptr.
  const Value* find(std::string_view key) const {
    const Value* found = nullptr;
    if (type == Type::kObject) {
      for (const auto& member : object) {
        if (member.first == key) found = &member.second;
      }
    }
    return found;
  }
  /// \brief The number member `key`, or `fallback` when absent or not a number.
  double num(std::string_view key, double fallback = std::numeric_limits<double>::quiet_NaN()) const {
    const Value* v = find(key);
    return v != nullptr && v->is_number() ? v->number : fallback;
  }
  /// \brief The string member `key`, or `fallback` when absent or not a string.
  std::string str(std::string_view key, const std::string& fallback = "") const {
    const Value* v = find(key);
    return v != nullptr && v->is_string() ? v->string : fallback;
  }
  /// \brief The bool member `key`, or `fallback` when absent or not a bool.
  bool flag(std::string_view key, bool fallback = false) const {
    const Value* v = find(key);
    return v != nullptr && v->type == Type::kBool ? v->boolean : fallback;
  }
};

struct Result {
  bool ok = false;
  Value value;
  std::string error;       // "line L, column C: what" when !ok
  bool truncated = false;  // lenient mode only: the input ended inside a container
};

class Parser {
 public:
  Parser(std::string_view text, bool lenient) : s_(text), lenient_(lenient) {}

  Result parse() {
    Result r;
    skip_ws();
    if (at_end()) {
      r.error = "empty input";
      return r;
    }
    if (!value(&r.value, 0)) {
      r.error = error_;
      return r;
    }
    if (eof_) {
      r.ok = r.truncated = true;
      return r;
    }
    skip_ws();
    if (!at_end()) {
      fail("trailing characters after the document");
      r.error = error_;
      return r;
    }
    r.ok = true;
    return r;
  }

 private:
  static constexpr int kMaxDepth = 256;

  bool at_end() const { return i_ >= s_.size(); }
  void skip_ws() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool fail(const std::string& what) {
    if (error_.empty()) {
      size_t line = 1, col = 1;
      for (size_t k = 0; k < i_ && k < s_.size(); ++k) {
        if (s_[k] == '\n') {
          ++line;
          col = 1;
        } else {
          ++col;
        }
      }
      error_ = "line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + what;
    }
    return false;
  }
  bool fail_eof() {
    eof_ = true;
    return fail("unexpected end of input");
  }

  bool value(Value* out, int depth) {
    skip_ws();
    if (at_end()) return fail_eof();
    if (depth > kMaxDepth) return fail("nesting deeper than " + std::to_string(kMaxDepth));
    const char c = s_[i_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out->type = Value::Type::kString;
      return string(&out->string);
    }
    if (c == 't' || c == 'f' || c == 'n' || c == 'N' || c == 'I') return literal(out);
    if (c == '-' || (c >= '0' && c <= '9')) return number(out);
    return fail(std::string("unexpected character '") + c + "'");
  }

  bool literal(Value* out) {
    struct Word {
      const char* text;
      Value::Type type;
      double number;
      bool boolean;
    };
    const double inf = std::numeric_limits<double>::infinity();
    const Word words[] = {{"true", Value::Type::kBool, 0.0, true},
                          {"false", Value::Type::kBool, 0.0, false},
                          {"null", Value::Type::kNull, 0.0, false},
                          {"NaN", Value::Type::kNumber, std::numeric_limits<double>::quiet_NaN(), false},
                          {"Infinity", Value::Type::kNumber, inf, false}};
    for (const Word& w : words) {
      const std::string_view word(w.text);
      const std::string_view rest = s_.substr(i_, word.size());
      if (rest == word) {
        i_ += word.size();
        out->type = w.type;
        out->number = w.number;
        out->boolean = w.boolean;
        return true;
      }
      if (rest.size() < word.size() && word.substr(0, rest.size()) == rest) return fail_eof();
    }
    return fail("unknown literal");
  }

  bool number(Value* out) {
    const size_t start = i_;
    auto digits = [&]() {
      const size_t from = i_;
      while (!at_end() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ > from;
    };
    if (s_[i_] == '-') {
      ++i_;
      if (at_end()) return fail_eof();
      if (s_[i_] == 'I') {
        if (!literal(out)) return false;
        out->number = -out->number;
        return out->type == Value::Type::kNumber && std::isinf(out->number) ? true : fail("bad number");
      }
    }
    if (at_end()) return fail_eof();
    if (s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return fail("bad number");
    }
    if (!at_end() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return at_end() ? fail_eof() : fail("bad number: digits expected after '.'");
    }
    if (!at_end() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (!at_end() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return at_end() ? fail_eof() : fail("bad number: exponent digits expected");
    }
    const std::string text(s_.substr(start, i_ - start));
    out->type = Value::Type::kNumber;
    out->number = std::strtod(text.c_str(), nullptr);
    return true;
  }

  static void append_utf8(std::string* out, unsigned long cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool hex4(unsigned long* cp) {
    if (s_.size() - i_ < 4) return fail_eof();
    *cp = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (d < 0) return fail("bad \\u escape");
      *cp = *cp * 16 + static_cast<unsigned long>(d);
    }
    return true;
  }

  bool string(std::string* out) {
    ++i_;  // the opening quote
    for (;;) {
      if (at_end()) return fail_eof();
      const char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (at_end()) return fail_eof();
      const char e = s_[i_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          unsigned long cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {  // high surrogate: a low one must follow
            unsigned long low = 0;
            if (s_.size() - i_ < 2) return fail_eof();
            if (s_[i_] != '\\' || s_[i_ + 1] != 'u') return fail("lone high surrogate");
            i_ += 2;
            if (!hex4(&low)) return false;
            if (low < 0xDC00 || low >= 0xE000) return fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return fail("lone low surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: return fail(std::string("bad escape \\") + e);
      }
    }
  }

  // After an element: ',' (more follow) or `close`. In lenient mode the end of the input
  // closes the container; a number just before it may be cut, so it is dropped.
  enum class After { kMore, kClosed, kEnd, kError };
  After after_element(char close) {
    skip_ws();
    if (at_end()) return lenient_ ? (fail_eof(), After::kEnd) : (fail_eof(), After::kError);
    if (s_[i_] == ',') {
      ++i_;
      return After::kMore;
    }
    if (s_[i_] == close) {
      ++i_;
      return After::kClosed;
    }
    fail(std::string("expected ',' or '") + close + "'");
    return After::kError;
  }
  bool cut(Value* out) {  // lenient end of input inside `out`
    out->truncated = true;
    return true;
  }

  bool array(Value* out, int depth) {
    out->type = Value::Type::kArray;
    ++i_;
    skip_ws();
    if (at_end()) return lenient_ ? (fail_eof(), cut(out)) : fail_eof();
    if (s_[i_] == ']') {
      ++i_;
      return true;
    }
    for (;;) {
      Value item;
      if (!value(&item, depth + 1)) return eof_ && lenient_ ? cut(out) : false;
      if (item.truncated) {  // the end came inside it: keep its complete part
        out->array.push_back(std::move(item));
        return cut(out);
      }
      const After next = after_element(']');
      if (next == After::kError) return false;
      if (next == After::kEnd) {
        if (!item.is_number()) out->array.push_back(std::move(item));
        return cut(out);
      }
      out->array.push_back(std::move(item));
      if (next == After::kClosed) return true;
    }
  }

  bool object(Value* out, int depth) {
    out->type = Value::Type::kObject;
    ++i_;
    skip_ws();
    if (at_end()) return lenient_ ? (fail_eof(), cut(out)) : fail_eof();
    if (s_[i_] == '}') {
      ++i_;
      return true;
    }
    for (;;) {
      skip_ws();
      if (at_end()) return lenient_ ? (fail_eof(), cut(out)) : fail_eof();
      if (s_[i_] != '"') return fail("expected a string key");
      std::string key;
      if (!string(&key)) return eof_ && lenient_ ? cut(out) : false;
      skip_ws();
      if (at_end()) return lenient_ ? (fail_eof(), cut(out)) : fail_eof();
      if (s_[i_] != ':') return fail("expected ':'");
      ++i_;
      Value item;
      if (!value(&item, depth + 1)) return eof_ && lenient_ ? cut(out) : false;
      if (item.truncated) {
        out->object.emplace_back(std::move(key), std::move(item));
        return cut(out);
      }
      const After next = after_element('}');
      if (next == After::kError) return false;
      if (next == After::kEnd) {
        if (!item.is_number()) out->object.emplace_back(std::move(key), std::move(item));
        return cut(out);
      }
      out->object.emplace_back(std::move(key), std::move(item));
      if (next == After::kClosed) return true;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  bool lenient_ = false;
  bool eof_ = false;  // the end of the input was reached inside the document
  std::string error_;
};

/// \brief Parses `text` (strict JSON plus NaN / Infinity); `lenient` accepts a document cut
/// short (Result::truncated) and keeps what was complete.
inline Result parse(std::string_view text, bool lenient = false) { return Parser(text, lenient).parse(); }

}  // namespace mini_json
