#include "topo/link_bandwidth.h"

#include <cstdlib>
#include <string>

namespace loom {

int pcieGenFromLinkSpeed(std::string_view linkSpeed) {
  std::string s(linkSpeed);
  const char* begin = s.c_str();
  char* end = nullptr;
  double gts = std::strtod(begin, &end);
  if (end == begin) return 0;
  // Transfer rates per lane of each generation, in GT/s.
  struct Rate { double gts; int gen; };
  constexpr Rate kRates[] = {{2.5, 1}, {5.0, 2}, {8.0, 3}, {16.0, 4}, {32.0, 5}, {64.0, 6}};
  for (const Rate& r : kRates) {
    if (gts > r.gts * 0.95 && gts < r.gts * 1.05) return r.gen;
  }
  return 0;
}

double pcieLaneGBs(int gen) {
  switch (gen) {
    case 1: return 2.5 * 0.8 / 8;              // 8b/10b encoding
    case 2: return 5.0 * 0.8 / 8;
    case 3: return 8.0 * 128.0 / 130.0 / 8;    // 128b/130b encoding
    case 4: return 16.0 * 128.0 / 130.0 / 8;
    case 5: return 32.0 * 128.0 / 130.0 / 8;
    case 6: return 64.0 * 242.0 / 256.0 / 8;   // FLIT mode with FEC
    default: return 0;
  }
}

double pcieBandwidthGBs(int gen, int width) {
  if (gen <= 0 || pcieLaneGBs(gen) == 0) gen = kDefaultPcieGen;
  if (width <= 0) width = kDefaultPcieWidth;
  return pcieLaneGBs(gen) * width;
}

double nvlinkPerLinkGBs(int sm) {
  if (sm >= 100) return 50.0;  // NVLink 5 (Blackwell)
  if (sm >= 70) return 25.0;   // NVLink 2-4 (Volta, Ampere, Hopper): 25 GB/s per link per direction
  if (sm >= 60) return 20.0;   // NVLink 1 (Pascal)
  return 25.0;                 // unknown generation: the common value
}

double interSocketGBs(std::string_view cpuVendor) {
  if (cpuVendor == "AuthenticAMD" || cpuVendor == "AMD") return 40.0;
  if (cpuVendor == "GenuineIntel") return 20.0;
  return 20.0;
}

}  // namespace loom
