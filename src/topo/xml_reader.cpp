#include "topo/xml_reader.h"

#include <cstdint>
#include <fstream>
#include <sstream>

namespace loom {

const std::string* XmlElement::attribute(std::string_view attributeName) const {
  for (const XmlAttribute& a : attributes) {
    if (a.name == attributeName) return &a.value;
  }
  return nullptr;
}

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool isNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool isNameChar(char c) {
  return isNameStart(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// Shows a byte in a message without letting control bytes or broken UTF-8 into logs.
std::string describeByte(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "byte 0x%02x", u);
  return buf;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Parser {
 public:
  Parser(std::string_view text, const XmlLimits& limits) : s_(text), limits_(limits) {}

  Result<XmlElement> parse() {
    if (s_.size() > limits_.maxBytes) {
      return Status::invalidArgument(
          "line 1: document is %zu bytes, more than the %zu-byte limit for a topology file",
          s_.size(), limits_.maxBytes);
    }
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // UTF-8 byte order mark
    LOOM_RETURN_IF_ERROR(parseProlog());
    if (atEnd()) return fail("the document has no root element");
    if (peek() != '<') return fail("text " + describeByte(peek()) + " before the root element");
    LOOM_RETURN_IF_ERROR(parseRootElement());
    LOOM_RETURN_IF_ERROR(parseMisc(/*afterRoot=*/true));
    return std::move(root_);
  }

 private:
  bool atEnd() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }
  bool startsWith(std::string_view prefix) const { return s_.substr(pos_, prefix.size()) == prefix; }
  void advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < s_.size(); ++i) {
      if (s_[pos_] == '\n') ++line_;
      ++pos_;
    }
  }
  void skipSpace() {
    while (!atEnd() && isSpace(peek())) advance();
  }
  Status fail(const std::string& reason) const { return failAt(line_, reason); }
  static Status failAt(int line, const std::string& reason) {
    return Status::invalidArgument("line %d: %s", line, reason.c_str());
  }

  // XML forbids most control bytes; a NUL or escape byte in a topology file is corruption.
  Status checkChar(char c) const {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      return fail("control " + describeByte(c) + " is not allowed in XML");
    }
    return Status::ok();
  }

  // The part before the root: declaration, comments, DOCTYPE, whitespace.
  Status parseProlog() {
    if (startsWith("<?xml") && pos_ + 5 < s_.size() && (isSpace(s_[pos_ + 5]) || s_[pos_ + 5] == '?')) {
      int start = line_;
      size_t end = s_.find("?>", pos_);
      if (end == std::string_view::npos) return failAt(start, "unterminated XML declaration (no '?>')");
      for (size_t i = pos_; i < end; ++i) LOOM_RETURN_IF_ERROR(checkChar(s_[i]));
      advance(end + 2 - pos_);
    }
    return parseMisc(/*afterRoot=*/false);
  }

  Status parseMisc(bool afterRoot) {
    bool sawDoctype = false;
    for (;;) {
      skipSpace();
      if (atEnd()) return Status::ok();
      if (startsWith("<!--")) {
        LOOM_RETURN_IF_ERROR(skipComment());
      } else if (startsWith("<?")) {
        if (startsWith("<?xml")) return fail("XML declaration '<?xml' is only allowed at the very start");
        return fail("processing instructions ('<?') are not supported in topology files");
      } else if (!afterRoot && startsWith("<!DOCTYPE")) {
        if (sawDoctype) return fail("second <!DOCTYPE>");
        sawDoctype = true;
        LOOM_RETURN_IF_ERROR(skipDoctype());
      } else if (afterRoot) {
        if (peek() == '<') return fail("second root element after the document's root was closed");
        return fail("junk " + describeByte(peek()) + " after the root element");
      } else {
        return Status::ok();  // the root element (or junk, reported by the caller)
      }
    }
  }

  Status skipComment() {
    int start = line_;
    advance(4);
    size_t end = s_.find("-->", pos_);
    if (end == std::string_view::npos) return failAt(start, "unterminated comment ('<!--' without '-->')");
    while (pos_ < end) {
      LOOM_RETURN_IF_ERROR(checkChar(peek()));
      advance();
    }
    advance(3);
    return Status::ok();
  }

  Status skipDoctype() {
    int start = line_;
    advance(9);
    char quote = 0;
    while (!atEnd()) {
      char c = peek();
      LOOM_RETURN_IF_ERROR(checkChar(c));
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '[') {
        // An internal subset can define entities; expanding them is how XML bombs work.
        return fail("<!DOCTYPE> with an internal subset ('[') is not supported");
      } else if (c == '>') {
        advance();
        return Status::ok();
      }
      advance();
    }
    return failAt(start, "unterminated <!DOCTYPE>");
  }

  Status parseName(std::string& out, const char* what) {
    if (atEnd()) return fail(std::string("end of input where ") + what + " was expected");
    if (!isNameStart(peek())) {
      return fail(std::string("expected ") + what + ", found " + describeByte(peek()));
    }
    size_t begin = pos_;
    while (!atEnd() && isNameChar(peek())) advance();
    out.assign(s_.substr(begin, pos_ - begin));
    return Status::ok();
  }

  // Decodes one reference starting at '&'; appends the character(s) to out.
  Status parseReference(std::string& out) {
    size_t semi = s_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 12) {
      return fail("'&' that does not start an entity reference (write &amp; for a literal '&')");
    }
    std::string_view ref = s_.substr(pos_ + 1, semi - pos_ - 1);
    if (ref == "lt") out += '<';
    else if (ref == "gt") out += '>';
    else if (ref == "amp") out += '&';
    else if (ref == "quot") out += '"';
    else if (ref == "apos") out += '\'';
    else if (!ref.empty() && ref[0] == '#') {
      bool hex = ref.size() > 1 && ref[1] == 'x';
      std::string_view digits = ref.substr(hex ? 2 : 1);
      if (digits.empty()) return fail("empty character reference '&" + std::string(ref) + ";'");
      uint32_t cp = 0;
      for (char c : digits) {
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return fail("bad character reference '&" + std::string(ref) + ";'");
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
        if (cp > 0x10ffff) break;
      }
      bool allowedControl = cp == 0x9 || cp == 0xa || cp == 0xd;
      if ((cp < 0x20 && !allowedControl) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
        return fail("character reference '&" + std::string(ref) + ";' is not a valid XML character");
      }
      appendUtf8(out, cp);
    } else {
      return fail("unknown entity '&" + std::string(ref) +
                  ";' (only &lt; &gt; &amp; &quot; &apos; and &#N; are defined)");
    }
    advance(semi + 1 - pos_);
    return Status::ok();
  }

  Status parseAttributes(XmlElement& element, bool& selfClosing) {
    for (;;) {
      bool hadSpace = false;
      while (!atEnd() && isSpace(peek())) {
        advance();
        hadSpace = true;
      }
      if (atEnd()) {
        return failAt(element.line, "end of input inside the start tag <" + element.name + ">");
      }
      if (peek() == '>') {
        advance();
        selfClosing = false;
        return Status::ok();
      }
      if (startsWith("/>")) {
        advance(2);
        selfClosing = true;
        return Status::ok();
      }
      if (!hadSpace) {
        return fail("expected whitespace, '>' or '/>' in <" + element.name + ">, found " + describeByte(peek()));
      }
      XmlAttribute attr;
      LOOM_RETURN_IF_ERROR(parseName(attr.name, "an attribute name"));
      if (element.hasAttribute(attr.name)) {
        return fail("attribute '" + attr.name + "' appears twice in <" + element.name + ">");
      }
      skipSpace();
      if (atEnd() || peek() != '=') {
        return fail("attribute '" + attr.name + "' in <" + element.name + "> has no '=value'");
      }
      advance();
      skipSpace();
      if (atEnd() || (peek() != '"' && peek() != '\'')) {
        return fail("value of attribute '" + attr.name + "' in <" + element.name + "> is not quoted");
      }
      char quote = peek();
      int valueLine = line_;
      advance();
      for (;;) {
        if (atEnd()) {
          return failAt(valueLine, "unterminated value of attribute '" + attr.name + "' in <" + element.name + ">");
        }
        char c = peek();
        if (c == quote) {
          advance();
          break;
        }
        if (c == '<') {
          return fail("'<' inside the value of attribute '" + attr.name + "' (missing closing quote?)");
        }
        if (c == '&') {
          LOOM_RETURN_IF_ERROR(parseReference(attr.value));
          continue;
        }
        LOOM_RETURN_IF_ERROR(checkChar(c));
        attr.value += c;
        advance();
      }
      element.attributes.push_back(std::move(attr));
    }
  }

  // Iterative so that depth is bounded by the explicit limit, not the C++ stack.
  Status parseRootElement() {
    std::vector<XmlElement> stack;
    for (;;) {
      if (atEnd()) {
        if (stack.empty()) return fail("the document has no root element");
        const XmlElement& open = stack.back();
        return fail("end of input inside <" + open.name + "> opened at line " + std::to_string(open.line) +
                    " (unclosed tag)");
      }
      char c = peek();
      if (c != '<') {
        if (stack.empty()) return fail("text outside the root element");
        if (c == '&') {
          LOOM_RETURN_IF_ERROR(parseReference(stack.back().text));
          continue;
        }
        LOOM_RETURN_IF_ERROR(checkChar(c));
        stack.back().text += c;
        advance();
        continue;
      }
      if (startsWith("<!--")) {
        LOOM_RETURN_IF_ERROR(skipComment());
        continue;
      }
      if (startsWith("<![CDATA[")) {
        if (stack.empty()) return fail("CDATA outside the root element");
        int start = line_;
        advance(9);
        size_t end = s_.find("]]>", pos_);
        if (end == std::string_view::npos) return failAt(start, "unterminated CDATA section");
        while (pos_ < end) {
          LOOM_RETURN_IF_ERROR(checkChar(peek()));
          stack.back().text += peek();
          advance();
        }
        advance(3);
        continue;
      }
      if (startsWith("<!")) return fail("unsupported markup '<!' inside the document");
      if (startsWith("<?")) return fail("processing instructions ('<?') are not supported in topology files");
      if (startsWith("</")) {
        int closeLine = line_;
        advance(2);
        std::string name;
        LOOM_RETURN_IF_ERROR(parseName(name, "a closing tag name"));
        skipSpace();
        if (atEnd() || peek() != '>') {
          return failAt(closeLine, "closing tag </" + name + " is not terminated by '>'");
        }
        advance();
        if (stack.empty()) return failAt(closeLine, "closing tag </" + name + "> without an open element");
        if (stack.back().name != name) {
          return failAt(closeLine, "closing tag </" + name + "> does not match <" + stack.back().name +
                                       "> opened at line " + std::to_string(stack.back().line));
        }
        XmlElement done = std::move(stack.back());
        stack.pop_back();
        if (stack.empty()) {
          root_ = std::move(done);
          return Status::ok();
        }
        stack.back().children.push_back(std::move(done));
        continue;
      }
      // A start tag.
      XmlElement element;
      element.line = line_;
      advance();
      LOOM_RETURN_IF_ERROR(parseName(element.name, "an element name after '<'"));
      if (static_cast<int>(stack.size()) >= limits_.maxDepth) {
        return failAt(element.line, "elements nested deeper than " + std::to_string(limits_.maxDepth) + " levels");
      }
      bool selfClosing = false;
      LOOM_RETURN_IF_ERROR(parseAttributes(element, selfClosing));
      if (selfClosing) {
        if (stack.empty()) {
          root_ = std::move(element);
          return Status::ok();
        }
        stack.back().children.push_back(std::move(element));
      } else {
        stack.push_back(std::move(element));
      }
    }
  }

  std::string_view s_;
  XmlLimits limits_;
  size_t pos_ = 0;
  int line_ = 1;
  XmlElement root_;
};

}  // namespace

Result<XmlElement> parseXml(std::string_view text, const XmlLimits& limits) {
  return Parser(text, limits).parse();
}

Result<XmlElement> readXmlFile(const std::string& path, const XmlLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalidArgument("cannot open topology file '%s'", path.c_str());
  // Read at most one byte past the limit so a huge file is refused without loading it.
  std::string data;
  data.resize(limits.maxBytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) return Status::invalidArgument("error reading topology file '%s'", path.c_str());
  auto result = parseXml(data, limits);
  if (!result.isOk()) return result.status().withContext(path);
  return result;
}

std::string xmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\t': out += "&#9;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace loom
