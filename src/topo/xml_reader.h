// A small, strict XML reader for topology files (NCCL topology/graph XML, hwloc XML).
//
// Topology files come from users and vendors, so the reader treats them as
// untrusted: it never crashes, bounds size and depth, and refuses anything it
// does not understand with "line N: <reason>" instead of guessing. It covers
// the subset these files use: one root element, attributes, text, comments,
// CDATA, the XML declaration and a DOCTYPE without an internal subset.
// Namespaces, DTD validation and entities beyond the five predefined ones and
// character references are deliberately out of scope.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "loom/status.h"

namespace loom {

struct XmlAttribute {
  std::string name;
  std::string value;  // entity references already decoded
};

struct XmlElement {
  std::string name;
  int line = 0;  // where the start tag begins, for messages about this element
  std::vector<XmlAttribute> attributes;  // in document order, names unique
  std::vector<XmlElement> children;
  std::string text;  // all character data directly inside, concatenated, decoded

  const std::string* attribute(std::string_view attributeName) const;
  bool hasAttribute(std::string_view attributeName) const { return attribute(attributeName) != nullptr; }
};

struct XmlLimits {
  size_t maxBytes = 16u << 20;  // real topology files are kilobytes; more means a wrong file
  int maxDepth = 64;            // the deepest real hwloc tree is ~20 levels
};

// Parses a whole document and returns its root element. Errors are
// Status::invalidArgument("line N: ...").
Result<XmlElement> parseXml(std::string_view text, const XmlLimits& limits = {});

// Reads and parses a file; errors are prefixed with the path.
Result<XmlElement> readXmlFile(const std::string& path, const XmlLimits& limits = {});

// Escapes text for use inside a double-quoted attribute value or element text.
std::string xmlEscape(std::string_view text);

}  // namespace loom
