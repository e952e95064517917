// The libibverbs entry points Loom uses, resolved with dlopen/dlsym.
//
// Why not link -libverbs: libloom and libnccl.so.2 must load on hosts without
// rdma-core, and a missing library should become "using TCP", not a loader
// error. Verbs on the data path (ibv_post_send, ibv_post_recv, ibv_poll_cq)
// are inline in <infiniband/verbs.h> and call through the context's ops table,
// so they need no symbol; only the control-path functions are listed here.
//
// The device-list functions take opaque pointers and are available in every
// build. Everything else needs the types from <infiniband/verbs.h> and exists
// only when CMake found it (LOOM_HAVE_IBVERBS).
#pragma once

#include <cstddef>
#include <cstdint>

#include "loom/status.h"

struct ibv_device;
struct ibv_context;

#ifdef LOOM_HAVE_IBVERBS
#include <infiniband/verbs.h>
#endif

namespace loom {

struct IbVerbsApi {
  void* handle = nullptr;  // from dlopen; kept open for the life of the process
  ibv_device** (*getDeviceList)(int* count) = nullptr;
  void (*freeDeviceList)(ibv_device** list) = nullptr;
  const char* (*getDeviceName)(ibv_device* device) = nullptr;
#ifdef LOOM_HAVE_IBVERBS
  ibv_context* (*openDevice)(ibv_device* device) = nullptr;
  int (*closeDevice)(ibv_context* context) = nullptr;
  int (*queryDevice)(ibv_context* context, ibv_device_attr* attr) = nullptr;
  // The exported symbol is declared with the older (shorter) attribute struct;
  // callers pass a full, zeroed ibv_port_attr, which is a superset.
  int (*queryPort)(ibv_context* context, uint8_t port, ibv_port_attr* attr) = nullptr;
  int (*queryGid)(ibv_context* context, uint8_t port, int index, ibv_gid* gid) = nullptr;
  // Optional (rdma-core >= 32): tells RoCE v1 from v2. Null when absent.
  int (*queryGidEx)(ibv_context* context, uint32_t port, uint32_t index, ibv_gid_entry* entry, uint32_t flags,
                    size_t entrySize) = nullptr;
  ibv_pd* (*allocPd)(ibv_context* context) = nullptr;
  int (*deallocPd)(ibv_pd* pd) = nullptr;
  ibv_mr* (*regMr)(ibv_pd* pd, void* addr, size_t length, int access) = nullptr;
  int (*deregMr)(ibv_mr* mr) = nullptr;
  ibv_cq* (*createCq)(ibv_context* context, int cqe, void* cqContext, ibv_comp_channel* channel,
                      int compVector) = nullptr;
  int (*destroyCq)(ibv_cq* cq) = nullptr;
  ibv_qp* (*createQp)(ibv_pd* pd, ibv_qp_init_attr* attr) = nullptr;
  int (*modifyQp)(ibv_qp* qp, ibv_qp_attr* attr, int mask) = nullptr;
  int (*destroyQp)(ibv_qp* qp) = nullptr;
  const char* (*wcStatusStr)(ibv_wc_status status) = nullptr;
#endif
};

// The process-wide table for "libibverbs.so.1", loaded on first use. The
// error names the library or the missing symbol.
Result<const IbVerbsApi*> ibVerbsApi();

// Loads `libraryName` afresh (no caching); the probe's tests use a bogus name.
Result<IbVerbsApi> loadIbVerbsApi(const char* libraryName);

}  // namespace loom
