// The cost model: how long a collective's schedules take on a topology.
//
// It runs every rank's schedule — the same schedules the executor runs — as a
// discrete-event simulation. A send becomes a transfer along the path between
// the two ranks' devices; each link direction on that path is a resource that
// carries one transfer at a time for bytes / bandwidth, so transfers that share
// a link (several channels, or several ranks behind one NIC) queue for it and
// link sharing costs what it should. A transfer arrives after its start plus
// the path's latency plus bytes over its narrowest resource. Receives wait
// for their message; reductions and copies cost bytes over the device's
// compute rate. The predicted time is when the last rank finishes.
//
// Two refinements keep the resources faithful to the hardware:
// - NVSwitch planes: a GPU's NVLinks to all its switches act as one port
//   (traffic is spread over every plane), so a transfer through NVSwitches
//   holds the sender's NVLink egress and the receiver's NVLink ingress.
// - Ranks sharing one device (host-memory ranks on one CPU) move data through
//   that host's memory: a LOC transfer holds the host's memory resource for
//   bytes over its copy bandwidth.
#pragma once

#include <cstddef>
#include <vector>

#include "loom/status.h"
#include "schedule/schedule.h"
#include "topo/topology_graph.h"

namespace loom {

// Model constants that are not properties of one link: measured on the
// machine (host memory) or taken from published measurements (GPU kernels).
struct CostParameters {
  // Fixed cost of each send or receive step on the rank that runs it: launch,
  // flag polling, wake-up. GPUs: a few hundred ns per step of a running kernel.
  double stepOverheadUs = 0.4;
  // Fraction of a link's raw rate that transfers achieve (protocol headers,
  // flow control), per kind of link. From published measurements: NCCL's
  // ring all-reduce reaches about 370 of NVLink4's 450 GB/s on an 8xH100
  // host; a 400 Gb/s InfiniBand port carries 46-48 of its 50 GB/s; PCIe Gen4
  // x16 moves about 25 of its 31.5 GB/s.
  double nvlinkEfficiency = 0.85;
  double pcieEfficiency = 0.8;
  double networkEfficiency = 0.95;
  double efficiency(LinkKind kind) const {
    switch (kind) {
      case LinkKind::kNvLink:
      case LinkKind::kC2C: return nvlinkEfficiency;
      case LinkKind::kPcie:
      case LinkKind::kSys: return pcieEfficiency;
      case LinkKind::kNet: return networkEfficiency;
    }
    return 1.0;
  }
  // GPU-local copy and reduction throughput (HBM bound).
  double gpuLocalGBs = 1500;
  // Host ranks: per-step cost of a shared-memory hop (flags, wake-ups), copy
  // and reduce rates of one rank's thread, and the host memory's aggregate
  // rate that all ranks of a host share. Fitted to loom-perf -a all on the
  // 2-core CI machine with 4 ranks (docs/PLANNER.md, "Calibration").
  double hostHopUs = 1.6;
  double hostCopyGBs = 17.5;
  double hostMemoryGBs = 35;
  double hostReduceGBs = 10.5;
  // Cores a host's ranks share; 0: as many as ranks. More ranks than cores
  // slow each rank's copies and reductions in proportion.
  int hostCores = 0;
};

// Where each rank runs: a GPU node, or a CPU node for host-buffer ranks.
struct Placement {
  const TopologyGraph* graph = nullptr;
  std::vector<int> deviceOfRank;
};

struct CostEstimate {
  double timeUs = 0;
  size_t messages = 0;  // transfers simulated, for tests and the decision table
};

// `schedules[r]` is rank r's schedule (all for one call); `elementBytes` sizes
// the slices. Fails when the schedules cannot complete (a receive with no
// matching send), which the verifier would also reject.
Result<CostEstimate> predictCost(const std::vector<Schedule>& schedules, size_t elementBytes,
                                 const Placement& placement, const CostParameters& parameters);

}  // namespace loom
