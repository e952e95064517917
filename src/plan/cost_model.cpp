#include "plan/cost_model.h"

#include <algorithm>
#include <deque>
#include <queue>
#include <unordered_map>

#include "topo/topology_paths.h"

namespace loom {
namespace {

// Something a transfer occupies for bytes / bandwidth: a link direction, a
// GPU's NVSwitch port, or a host's memory.
struct Resource {
  double bandwidthGBs = 0;
  double busyUntilUs = 0;
};

// How a message between two devices travels.
struct Route {
  std::vector<int> resources;
  double latencyUs = 0;
  double narrowestGBs = 0;
};

// The NVLink bandwidth a GPU has into the switch fabric: every plane at once.
double nvSwitchPortGBs(const TopologyGraph& g, int gpu) {
  double total = 0;
  for (int l : g.linksOf(gpu)) {
    const TopoLink& link = g.links()[static_cast<size_t>(l)];
    if (link.kind == LinkKind::kNvLink && g.node(g.otherEnd(l, gpu)).kind == NodeKind::kNvSwitch) {
      total += link.bandwidthGBs;
    }
  }
  return total;
}

bool throughNvSwitch(const TopologyGraph& g, const TopoPath& path) {
  for (const PathHop& hop : path.hops) {
    const TopoLink& link = g.links()[static_cast<size_t>(hop.link)];
    if (g.node(link.a).kind == NodeKind::kNvSwitch || g.node(link.b).kind == NodeKind::kNvSwitch) return true;
  }
  return false;
}

class Simulation {
 public:
  Simulation(const std::vector<Schedule>& schedules, size_t elementBytes, const Placement& placement,
             const CostParameters& p)
      : schedules_(schedules), elementBytes_(elementBytes), placement_(placement), p_(p), g_(*placement.graph) {
    int n = static_cast<int>(schedules.size());
    std::unordered_map<int, int> ranksPerHost;
    for (int r = 0; r < n; ++r) ++ranksPerHost[g_.node(device(r)).hostIndex];
    // Host ranks beyond the core count take turns on the cores.
    for (int r = 0; r < n; ++r) {
      double share = 1.0;
      if (isHostRank(r) && p_.hostCores > 0) {
        share = std::min(1.0, static_cast<double>(p_.hostCores) / ranksPerHost[g_.node(device(r)).hostIndex]);
      }
      cpuShare_.push_back(share);
    }
    rankComputeBusyUs_.assign(static_cast<size_t>(n), 0.0);
  }

  Result<CostEstimate> run() {
    for (int r = 0; r < static_cast<int>(schedules_.size()); ++r) {
      for (int c = 0; c < static_cast<int>(schedules_[static_cast<size_t>(r)].channels.size()); ++c) {
        lanes_.push_back({r, c, 0, 0.0});
        ready_.push({0.0, static_cast<int>(lanes_.size()) - 1});
      }
    }
    double finish = 0;
    while (!ready_.empty()) {
      auto [time, index] = ready_.top();
      ready_.pop();
      Lane& lane = lanes_[static_cast<size_t>(index)];
      const Channel& channel = schedules_[static_cast<size_t>(lane.rank)].channels[static_cast<size_t>(lane.channel)];
      if (lane.next == channel.steps.size()) {
        finish = std::max(finish, lane.timeUs);
        continue;
      }
      if (!runStep(index, channel.steps[lane.next])) continue;  // waits for a message
      ++lane.next;
      ready_.push({lane.timeUs, index});
    }
    for (const Lane& lane : lanes_) {
      size_t steps = schedules_[static_cast<size_t>(lane.rank)].channels[static_cast<size_t>(lane.channel)].steps.size();
      if (lane.next < steps) {
        return Status::internal("cost model: rank %d channel %d stops at step %zu of %zu waiting for a message "
                                "that is never sent", lane.rank, lane.channel, lane.next, steps);
      }
    }
    return CostEstimate{finish, messages_};
  }

 private:
  struct Lane {
    int rank;
    int channel;
    size_t next;
    double timeUs;
  };
  struct Connection {
    std::deque<double> arrivalsUs;
    double busyUntilUs = 0;
    int waitingLane = -1;
  };
  using Event = std::pair<double, int>;

  int device(int rank) const { return placement_.deviceOfRank[static_cast<size_t>(rank)]; }
  bool isHostRank(int rank) const { return g_.node(device(rank)).kind != NodeKind::kGpu; }
  double stepOverheadUs(int rank) const { return isHostRank(rank) ? p_.hostHopUs : p_.stepOverheadUs; }

  // Local work (copies, reductions) of a rank: host ranks do it on their one
  // thread, shared between channels and with other ranks on the same cores.
  double compute(int rank, double startUs, double bytes, double rateGBs) {
    double duration = bytes / (rateGBs * 1e3 * cpuShare_[static_cast<size_t>(rank)]);
    if (!isHostRank(rank)) return startUs + duration;
    double& busy = rankComputeBusyUs_[static_cast<size_t>(rank)];
    busy = std::max(busy, startUs) + duration;
    return busy;
  }
  double copyRate(int rank) const { return isHostRank(rank) ? p_.hostCopyGBs : p_.gpuLocalGBs; }
  double reduceRate(int rank) const { return isHostRank(rank) ? p_.hostReduceGBs : p_.gpuLocalGBs; }

  Connection& connection(int from, int to, int channel) {
    long long n = static_cast<long long>(schedules_.size());
    long long key = (static_cast<long long>(from) * n + to) * 4096 + channel;
    return connections_[key];
  }

  // Resource keys, one range of `stride` per kind so they never collide:
  // link directions (2 per link), then NVSwitch egress per GPU, ingress per
  // GPU, host memory per host, and the stand-in for a missing path.
  int resource(long long key, double bandwidthGBs) {
    auto [it, inserted] = resourceIds_.try_emplace(key, static_cast<int>(resources_.size()));
    if (inserted) resources_.push_back({bandwidthGBs, 0});
    return it->second;
  }

  const Route& route(int fromDevice, int toDevice) {
    long long key = static_cast<long long>(fromDevice) * g_.nodeCount() + toDevice;
    auto it = routes_.find(key);
    if (it != routes_.end()) return it->second;
    Route r;
    const long long stride = 2 * static_cast<long long>(g_.links().size()) + g_.nodeCount() + 1;
    if (fromDevice == toDevice) {
      // Ranks on one device meet in its host's memory.
      r.resources.push_back(resource(3 * stride + g_.node(fromDevice).hostIndex, p_.hostMemoryGBs));
    } else {
      TopoPath path = findPath(g_, fromDevice, toDevice);
      r.latencyUs = path.latencyUs;
      if (path.type == PathType::kNvl && throughNvSwitch(g_, path)) {
        r.resources.push_back(resource(stride + fromDevice, nvSwitchPortGBs(g_, fromDevice) * p_.nvlinkEfficiency));
        r.resources.push_back(resource(2 * stride + toDevice, nvSwitchPortGBs(g_, toDevice) * p_.nvlinkEfficiency));
      } else {
        for (const PathHop& hop : path.hops) {
          const TopoLink& link = g_.links()[static_cast<size_t>(hop.link)];
          double bw = link.bandwidthGBs * p_.efficiency(link.kind);
          r.resources.push_back(resource(2LL * hop.link + (hop.forward ? 0 : 1), bw));
        }
      }
      if (path.type == PathType::kNone) {
        // Unconnected devices (a graph without a network between hosts): a
        // slow stand-in keeps the plan computable and clearly unattractive.
        r.resources.push_back(resource(4 * stride + fromDevice, 1.0));
      }
    }
    r.narrowestGBs = 1e30;
    for (int id : r.resources) r.narrowestGBs = std::min(r.narrowestGBs, resources_[static_cast<size_t>(id)].bandwidthGBs);
    return routes_.emplace(key, std::move(r)).first->second;
  }

  // Runs one step; false when the lane must wait for a message.
  bool runStep(int index, const Step& step) {
    Lane& lane = lanes_[static_cast<size_t>(index)];
    double bytes = 0;
    switch (step.kind) {
      case StepKind::kSend: {
        bytes = static_cast<double>(step.src.count * elementBytes_);
        double start = lane.timeUs + stepOverheadUs(lane.rank);
        // Host ranks copy the message into shared memory themselves.
        if (isHostRank(lane.rank)) start = compute(lane.rank, start, bytes, copyRate(lane.rank));
        send(lane, step.peer, bytes, start);
        lane.timeUs = start;
        return true;
      }
      case StepKind::kRecv:
      case StepKind::kRecvReduce: {
        Connection& conn = connection(step.peer, lane.rank, lane.channel);
        if (conn.arrivalsUs.empty()) {
          conn.waitingLane = index;
          return false;
        }
        double arrived = std::max(lane.timeUs, conn.arrivalsUs.front()) + stepOverheadUs(lane.rank);
        conn.arrivalsUs.pop_front();
        bytes = static_cast<double>(step.dst.count * elementBytes_);
        if (step.kind == StepKind::kRecvReduce) {
          lane.timeUs = compute(lane.rank, arrived, bytes, reduceRate(lane.rank));
        } else {
          lane.timeUs = isHostRank(lane.rank) ? compute(lane.rank, arrived, bytes, copyRate(lane.rank)) : arrived;
        }
        return true;
      }
      case StepKind::kCopy:
        lane.timeUs = compute(lane.rank, lane.timeUs, static_cast<double>(step.dst.count * elementBytes_),
                              copyRate(lane.rank));
        return true;
      case StepKind::kReduce:
        lane.timeUs = compute(lane.rank, lane.timeUs, static_cast<double>(step.dst.count * elementBytes_),
                              reduceRate(lane.rank));
        return true;
    }
    return true;
  }

  void send(const Lane& lane, int peer, double bytes, double readyUs) {
    Connection& conn = connection(lane.rank, peer, lane.channel);
    const Route& r = route(device(lane.rank), device(peer));
    // Each resource serves its transfers in turn, independently of the
    // others (a transfer does not hold an idle link while it waits for a busy
    // one); the message is through when its slowest resource has carried it.
    double start = std::max(readyUs, conn.busyUntilUs);
    double transmitted = start + bytes / (r.narrowestGBs * 1e3);
    for (int id : r.resources) {
      Resource& res = resources_[static_cast<size_t>(id)];
      res.busyUntilUs = std::max(start, res.busyUntilUs) + bytes / (res.bandwidthGBs * 1e3);
      transmitted = std::max(transmitted, res.busyUntilUs);
    }
    conn.busyUntilUs = transmitted;
    conn.arrivalsUs.push_back(transmitted + r.latencyUs);
    ++messages_;
    if (conn.waitingLane >= 0) {
      const Lane& waiter = lanes_[static_cast<size_t>(conn.waitingLane)];
      ready_.push({std::max(waiter.timeUs, conn.arrivalsUs.front()), conn.waitingLane});
      conn.waitingLane = -1;
    }
  }

  const std::vector<Schedule>& schedules_;
  size_t elementBytes_;
  const Placement& placement_;
  const CostParameters& p_;
  const TopologyGraph& g_;
  std::vector<double> cpuShare_;
  std::vector<double> rankComputeBusyUs_;
  std::vector<Lane> lanes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> ready_;
  std::unordered_map<long long, Connection> connections_;
  std::unordered_map<long long, int> resourceIds_;
  std::vector<Resource> resources_;
  std::unordered_map<long long, Route> routes_;
  size_t messages_ = 0;
};

}  // namespace

Result<CostEstimate> predictCost(const std::vector<Schedule>& schedules, size_t elementBytes,
                                 const Placement& placement, const CostParameters& parameters) {
  if (placement.graph == nullptr || placement.deviceOfRank.size() != schedules.size()) {
    return Status::invalidArgument("cost model: placement names %zu devices for %zu ranks",
                                   placement.deviceOfRank.size(), schedules.size());
  }
  for (size_t r = 0; r < schedules.size(); ++r) {
    int d = placement.deviceOfRank[r];
    if (d < 0 || d >= placement.graph->nodeCount()) {
      return Status::invalidArgument("cost model: rank %zu is placed on node %d, outside the graph's %d nodes", r, d,
                                     placement.graph->nodeCount());
    }
  }
  return Simulation(schedules, elementBytes, placement, parameters).run();
}

}  // namespace loom
