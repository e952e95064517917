#include "topo/nvml_gpus.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "topo/link_bandwidth.h"
#include "topo/sysfs_pci.h"

namespace loom {
namespace {

// The slice of nvml.h used here, with the layouts and values of the public header.
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_INVALID_ARGUMENT = 2;
constexpr nvmlReturn_t NVML_ERROR_NOT_SUPPORTED = 3;
constexpr int NVML_FEATURE_ENABLED = 1;                 // nvmlEnableState_t
constexpr int NVML_NVLINK_DEVICE_TYPE_GPU = 0x00;       // nvmlIntNvLinkDeviceType_t
constexpr int NVML_NVLINK_DEVICE_TYPE_IBMNPU = 0x01;
constexpr unsigned NVML_NVLINK_MAX_LINKS = 18;
constexpr unsigned NVML_FI_DEV_C2C_LINK_COUNT = 170;
constexpr unsigned NVML_FI_DEV_C2C_LINK_GET_STATUS = 171;  // 1 = active
constexpr unsigned NVML_FI_DEV_C2C_LINK_GET_MAX_BW = 172;  // MB/s per link

struct nvmlPciInfo_t {
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];  // "00000000:07:00.0": an 8-digit domain
};

union nvmlValue_t {
  double dVal;
  unsigned int uiVal;
  unsigned long ulVal;
  unsigned long long ullVal;
  long long sllVal;
  int siVal;
  unsigned short usVal;
};

struct nvmlFieldValue_t {
  unsigned int fieldId;
  unsigned int scopeId;
  long long timestamp;
  long long latencyUsec;
  int valueType;  // nvmlValueType_t
  nvmlReturn_t nvmlReturn;
  nvmlValue_t value;
};

struct Nvml {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*errorString)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*getCount)(unsigned int*) = nullptr;
  nvmlReturn_t (*getHandleByIndex)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*getPciInfo)(nvmlDevice_t, nvmlPciInfo_t*) = nullptr;
  // The rest are optional: older drivers lack some, and a GPU without them is still a GPU.
  nvmlReturn_t (*getComputeCapability)(nvmlDevice_t, int*, int*) = nullptr;
  nvmlReturn_t (*getNvLinkState)(nvmlDevice_t, unsigned int, int*) = nullptr;
  nvmlReturn_t (*getNvLinkRemotePciInfo)(nvmlDevice_t, unsigned int, nvmlPciInfo_t*) = nullptr;
  nvmlReturn_t (*getNvLinkRemoteDeviceType)(nvmlDevice_t, unsigned int, int*) = nullptr;
  nvmlReturn_t (*getFieldValues)(nvmlDevice_t, int, nvmlFieldValue_t*) = nullptr;

  std::string error(nvmlReturn_t rc) const {
    const char* text = errorString != nullptr ? errorString(rc) : nullptr;
    return "NVML error " + std::to_string(rc) + (text != nullptr ? std::string(" (") + text + ")" : "");
  }
};

template <typename Fn>
void bind(void* lib, Fn& fn, const char* name, const char* fallback = nullptr) {
  void* sym = dlsym(lib, name);
  if (sym == nullptr && fallback != nullptr) sym = dlsym(lib, fallback);
  fn = reinterpret_cast<Fn>(sym);
}

// NVML writes an 8-digit domain; the graph (like hwloc and sysfs) uses 4 when the high digits are 0.
std::string busIdOf(const nvmlPciInfo_t& info) {
  char raw[sizeof(info.busId) + 1] = {};
  std::memcpy(raw, info.busId, sizeof(info.busId));
  std::string id = normalizeBusId(raw);
  size_t colon = id.find(':');
  while (colon != std::string::npos && colon > 4 && id[0] == '0') {
    id.erase(0, 1);
    --colon;
  }
  return id;
}

struct NvmlGpu {
  nvmlDevice_t handle = nullptr;
  unsigned index = 0;
  std::string busId;
  int sm = -1;
  int node = -1;
  struct RemoteEnd {
    int links = 0;   // active NVLinks to it
    int type = -1;   // nvmlIntNvLinkDeviceType_t; -1 when NVML cannot say
  };
  std::map<std::string, RemoteEnd> nvlinks;  // by remote bus id
  int c2cLinks = 0;
  double c2cMBs = 0;  // summed over active links
};

class NvmlDiscovery {
 public:
  NvmlDiscovery(TopologyGraph& graph, const std::string& sysfsRoot) : g_(graph), sysfsRoot_(sysfsRoot) {}

  void run() {
    void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      g_.notes.push_back("NVML not available (libnvidia-ml.so.1 not found): no GPUs discovered");
      return;
    }
    bind(lib, nvml_.init, "nvmlInit_v2", "nvmlInit");
    bind(lib, nvml_.shutdown, "nvmlShutdown");
    bind(lib, nvml_.errorString, "nvmlErrorString");
    bind(lib, nvml_.getCount, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    bind(lib, nvml_.getHandleByIndex, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    // _v3 and _v2 fill the same struct; _v3 only reports busId more reliably.
    bind(lib, nvml_.getPciInfo, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2");
    bind(lib, nvml_.getComputeCapability, "nvmlDeviceGetCudaComputeCapability");
    bind(lib, nvml_.getNvLinkState, "nvmlDeviceGetNvLinkState");
    bind(lib, nvml_.getNvLinkRemotePciInfo, "nvmlDeviceGetNvLinkRemotePciInfo_v2");
    bind(lib, nvml_.getNvLinkRemoteDeviceType, "nvmlDeviceGetNvLinkRemoteDeviceType");
    bind(lib, nvml_.getFieldValues, "nvmlDeviceGetFieldValues");
    if (nvml_.init == nullptr || nvml_.shutdown == nullptr || nvml_.getCount == nullptr ||
        nvml_.getHandleByIndex == nullptr || nvml_.getPciInfo == nullptr) {
      g_.notes.push_back("NVML (libnvidia-ml.so.1) lacks nvmlInit/nvmlDeviceGetCount/nvmlDeviceGetPciInfo: "
                         "no GPUs discovered");
      return;  // the library stays loaded: unloading NVML is not worth the risk
    }
    nvmlReturn_t rc = nvml_.init();
    if (rc != NVML_SUCCESS) {
      g_.notes.push_back("nvmlInit failed with " + nvml_.error(rc) + " (no driver loaded?): no GPUs discovered");
      return;
    }
    discover();
    nvml_.shutdown();
  }

 private:
  void discover() {
    unsigned count = 0;
    nvmlReturn_t rc = nvml_.getCount(&count);
    if (rc != NVML_SUCCESS) {
      g_.notes.push_back("nvmlDeviceGetCount failed with " + nvml_.error(rc) + ": no GPUs discovered");
      return;
    }
    if (count == 0) {
      g_.notes.push_back("NVML reports no GPU");
      return;
    }
    for (unsigned i = 0; i < count; ++i) {
      NvmlGpu gpu;
      gpu.index = i;
      rc = nvml_.getHandleByIndex(i, &gpu.handle);
      nvmlPciInfo_t pci{};
      if (rc == NVML_SUCCESS) rc = nvml_.getPciInfo(gpu.handle, &pci);
      if (rc != NVML_SUCCESS) {
        // Typically a GPU the process may not use (cgroups) or one that fell off the bus.
        g_.notes.push_back("NVML GPU " + std::to_string(i) + ": " + nvml_.error(rc) + "; left out");
        continue;
      }
      gpu.busId = busIdOf(pci);
      if (gpu.busId.empty()) {
        g_.notes.push_back("NVML GPU " + std::to_string(i) + " has an unreadable bus id; left out");
        continue;
      }
      int major = 0, minor = 0;
      if (nvml_.getComputeCapability != nullptr &&
          nvml_.getComputeCapability(gpu.handle, &major, &minor) == NVML_SUCCESS) {
        gpu.sm = major * 10 + minor;
      }
      readNvLinks(gpu);
      readC2C(gpu);
      gpus_.push_back(std::move(gpu));
    }
    for (NvmlGpu& gpu : gpus_) placeGpu(gpu);
    for (const NvmlGpu& gpu : gpus_) addNvLinks(gpu);
    for (const NvmlGpu& gpu : gpus_) addC2C(gpu);
    if (assumedPcieLinks_ > 0) {
      g_.notes.push_back(std::to_string(assumedPcieLinks_) +
                         " PCIe link(s) of GPUs have no speed or width in sysfs; assumed Gen" +
                         std::to_string(kDefaultPcieGen) + " x" + std::to_string(kDefaultPcieWidth));
    }
    // CUDA numbers devices fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, and
    // CUDA_VISIBLE_DEVICES renumbers them; NVML's order is the PCI bus order.
    g_.notes.push_back("GPU indices are NVML's (PCI bus order); they match CUDA's only with "
                       "CUDA_DEVICE_ORDER=PCI_BUS_ID and no CUDA_VISIBLE_DEVICES");
  }

  void readNvLinks(NvmlGpu& gpu) {
    if (nvml_.getNvLinkState == nullptr || nvml_.getNvLinkRemotePciInfo == nullptr) return;
    for (unsigned link = 0; link < NVML_NVLINK_MAX_LINKS; ++link) {
      int active = 0;
      nvmlReturn_t rc = nvml_.getNvLinkState(gpu.handle, link, &active);
      // NOT_SUPPORTED: no NVLink on this GPU; INVALID_ARGUMENT: past its last link.
      if (rc == NVML_ERROR_NOT_SUPPORTED || rc == NVML_ERROR_INVALID_ARGUMENT) break;
      if (rc != NVML_SUCCESS || active != NVML_FEATURE_ENABLED) continue;
      nvmlPciInfo_t remote{};
      if (nvml_.getNvLinkRemotePciInfo(gpu.handle, link, &remote) != NVML_SUCCESS) continue;
      std::string busId = busIdOf(remote);
      int type = -1;
      if (nvml_.getNvLinkRemoteDeviceType != nullptr &&
          nvml_.getNvLinkRemoteDeviceType(gpu.handle, link, &type) != NVML_SUCCESS) {
        type = -1;
      }
      NvmlGpu::RemoteEnd& end = gpu.nvlinks[busId];
      ++end.links;
      end.type = type;
    }
  }

  void readC2C(NvmlGpu& gpu) {
    if (nvml_.getFieldValues == nullptr) return;
    nvmlFieldValue_t count{};
    count.fieldId = NVML_FI_DEV_C2C_LINK_COUNT;
    if (nvml_.getFieldValues(gpu.handle, 1, &count) != NVML_SUCCESS || count.nvmlReturn != NVML_SUCCESS) return;
    for (unsigned l = 0; l < count.value.uiVal && l < 64; ++l) {
      nvmlFieldValue_t fv[2]{};
      fv[0].fieldId = NVML_FI_DEV_C2C_LINK_GET_STATUS;
      fv[0].scopeId = l;
      fv[1].fieldId = NVML_FI_DEV_C2C_LINK_GET_MAX_BW;
      fv[1].scopeId = l;
      if (nvml_.getFieldValues(gpu.handle, 2, fv) != NVML_SUCCESS) continue;
      if (fv[0].nvmlReturn == NVML_SUCCESS && fv[0].value.uiVal == 1 && fv[1].nvmlReturn == NVML_SUCCESS) {
        ++gpu.c2cLinks;
        gpu.c2cMBs += fv[1].value.uiVal;
      }
    }
  }

  void placeGpu(NvmlGpu& gpu) {
    int existing = g_.findByBusId(gpu.busId);
    if (existing >= 0) {
      TopoNode& node = g_.mutableNode(existing);
      if (node.kind != NodeKind::kGpu) {
        // hwloc filed it under another class (a 3D controller it did not recognise): NVML knows better.
        g_.notes.push_back(node.name + " is a GPU according to NVML; retyped");
        node.kind = NodeKind::kGpu;
      }
      if (node.devIndex < 0) node.devIndex = static_cast<int>(gpu.index);
      node.name = "GPU " + std::to_string(node.devIndex);
      if (gpu.sm > 0) node.gpu.sm = gpu.sm;
      gpu.node = existing;
      return;
    }
    TopoNode node;
    node.kind = NodeKind::kGpu;
    node.busId = gpu.busId;
    node.devIndex = static_cast<int>(gpu.index);
    node.name = "GPU " + std::to_string(gpu.index);
    node.gpu.sm = gpu.sm;
    auto function = readSysfsPciFunction(std::filesystem::path(sysfsRoot_) / "bus" / "pci" / "devices" / gpu.busId);
    if (function && function->busId == gpu.busId) {
      gpu.node = addSysfsPciNode(g_, *function, std::move(node), &assumedPcieLinks_);
      return;
    }
    // No sysfs entry (a container without /sys/bus/pci): nothing says where it hangs.
    g_.notes.push_back("GPU " + gpu.busId + " is not in " + sysfsRoot_ + "/bus/pci/devices; placed under the first CPU");
    node.parent = cpuForNuma(g_, -1);
    if (node.parent >= 0) node.numaId = g_.node(node.parent).numaId;
    int parent = node.parent;
    gpu.node = g_.addNode(std::move(node));
    addPcieLink(g_, gpu.node, parent, PciInfo{}, &assumedPcieLinks_);
  }

  const NvmlGpu* gpuByBusId(const std::string& busId) const {
    for (const NvmlGpu& g : gpus_) {
      if (g.busId == busId) return &g;
    }
    return nullptr;
  }

  // NVLinks ending at a device that is not one of our GPUs go to an NVSwitch:
  // the one hwloc found with that bus id, else a new one. A remote end with no
  // readable bus id joins a single NVSwitch with none, as NCCL merges them.
  int nvSwitchFor(const std::string& busId) {
    int existing = busId.empty() ? -1 : g_.findByBusId(busId);
    if (busId.empty()) {
      for (int n : g_.nodesOfKind(NodeKind::kNvSwitch)) {
        if (g_.node(n).busId.empty()) existing = n;
      }
    }
    if (existing >= 0) return g_.node(existing).kind == NodeKind::kNvSwitch ? existing : -1;
    TopoNode sw;
    sw.kind = NodeKind::kNvSwitch;
    sw.busId = busId;
    sw.name = busId.empty() ? "NVSwitch" : "NVSwitch " + busId;
    sw.pci.classCode = "0x068000";
    if (busId.empty()) g_.notes.push_back("NVLinks to a remote end with no bus id taken as one NVSwitch");
    return g_.addNode(std::move(sw));
  }

  void addNvLinks(const NvmlGpu& gpu) {
    for (const auto& [remote, end] : gpu.nvlinks) {
      int type = end.type;
      int count = end.links;
      if (remote == gpu.busId) {
        g_.notes.push_back(g_.node(gpu.node).name + " reports an NVLink to itself; ignored");
        continue;
      }
      int far = -1;
      if (const NvmlGpu* peer = gpuByBusId(remote)) {
        far = peer->node;
      } else if (type == NVML_NVLINK_DEVICE_TYPE_IBMNPU) {
        g_.notes.push_back("NVLink from " + g_.node(gpu.node).name + " to a CPU (" + remote + ") is not modelled");
        continue;
      } else if (type == NVML_NVLINK_DEVICE_TYPE_GPU) {
        g_.notes.push_back("NVLink from " + g_.node(gpu.node).name + " to GPU " + remote +
                           ", which NVML did not list (not visible to this process); ignored");
        continue;
      } else {
        // A switch (type 2), or a driver too old to say: a bus id that is no GPU of ours is a switch.
        far = nvSwitchFor(remote);
        if (far < 0) {
          g_.notes.push_back("NVLink from " + g_.node(gpu.node).name + " to " + remote + ", which is a " +
                             nodeKindName(g_.node(g_.findByBusId(remote)).kind) + "; ignored");
          continue;
        }
      }
      double perLink = nvlinkPerLinkGBs(gpu.sm);
      int existing = g_.findLink(gpu.node, far, LinkKind::kNvLink);
      if (existing >= 0) {
        // Both GPUs report a GPU-GPU link; a disagreement means a link trained on one side only.
        TopoLink& link = g_.mutableLink(existing);
        link.count = std::max(link.count, count);
        link.bandwidthGBs = link.count * perLink;
        continue;
      }
      TopoLink link;
      link.a = gpu.node;
      link.b = far;
      link.kind = LinkKind::kNvLink;
      link.count = count;
      link.bandwidthGBs = count * perLink;
      link.latencyUs = kNvLinkLatencyUs;
      g_.addLink(link);
    }
  }

  void addC2C(const NvmlGpu& gpu) {
    if (gpu.c2cLinks == 0) return;
    int cpu = g_.node(gpu.node).parent;
    while (cpu >= 0 && g_.node(cpu).kind != NodeKind::kCpu) cpu = g_.node(cpu).parent;
    if (cpu < 0) cpu = cpuForNuma(g_, g_.node(gpu.node).numaId);
    if (cpu < 0) return;
    TopoLink link;
    link.a = gpu.node;
    link.b = cpu;
    link.kind = LinkKind::kC2C;
    link.count = gpu.c2cLinks;
    link.bandwidthGBs = gpu.c2cMBs / 1000.0;
    link.latencyUs = kC2CLatencyUs;
    g_.addLink(link);
  }

  TopologyGraph& g_;
  std::string sysfsRoot_;
  Nvml nvml_;
  std::vector<NvmlGpu> gpus_;
  int assumedPcieLinks_ = 0;
};

}  // namespace

void addNvmlGpus(TopologyGraph& graph, const std::string& sysfsRoot) { NvmlDiscovery(graph, sysfsRoot).run(); }

}  // namespace loom
