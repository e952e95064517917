// Bandwidth and latency of links from what topology files say about them.
//
// One place for the numbers so the planner, simulator and readers agree.
// Bandwidths are per direction in GB/s (1e9 bytes/s), raw link rates after
// line encoding; achieved throughput is lower and is the simulator's business.
// Latencies are first-order model constants, to be calibrated by measurement.
#pragma once

#include <string_view>

namespace loom {

// "16 GT/s", "16.0 GT/s PCIe", "8 GT/s" -> 4, 3; 0 when unknown or empty.
int pcieGenFromLinkSpeed(std::string_view linkSpeed);
// Per-lane rate for a PCIe generation; 0 for an unknown generation.
double pcieLaneGBs(int gen);
// When a file omits speed or width (g5 bare bus ids, GB200 width 0), assume a
// Gen4 x16 link: what A100/H100-era servers have, so the planner still sees
// PCIe as far slower than NVLink.
constexpr int kDefaultPcieGen = 4;
constexpr int kDefaultPcieWidth = 16;
double pcieBandwidthGBs(int gen, int width);  // falls back to the defaults for 0s

// One NVLink lane per direction for a GPU generation (sm = compute capability x10).
double nvlinkPerLinkGBs(int sm);

// Effective socket-to-socket bandwidth for device traffic crossing the SMP
// interconnect; far below the interconnect's raw rate because P2P through it is slow.
double interSocketGBs(std::string_view cpuVendor);

constexpr double kNvLinkLatencyUs = 0.6;
constexpr double kC2CLatencyUs = 0.6;
constexpr double kPcieLatencyUs = 1.0;
constexpr double kSysLatencyUs = 1.5;
constexpr double kDefaultNetLatencyUs = 2.0;  // one RDMA hop through one switch

inline double netBandwidthGBs(int speedMbps) { return speedMbps > 0 ? speedMbps / 8000.0 : 0.0; }

}  // namespace loom
