// Comma-separated lists as the environment writes them ("INIT,NET", "^eth,ib").
#pragma once

#include <string>
#include <vector>

namespace loom {

// Splits on commas, dropping empty items.
inline std::vector<std::string> splitCommaList(const std::string& list) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) items.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

}  // namespace loom
