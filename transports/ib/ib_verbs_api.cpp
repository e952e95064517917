#include "transports/ib/ib_verbs_api.h"

#include <dlfcn.h>

#include <mutex>

namespace loom {
namespace {

// dlsym into a typed function pointer; a missing required symbol means the
// library is too old or not libibverbs at all.
template <typename Fn>
Status resolve(void* handle, const char* libraryName, const char* symbol, Fn& out, bool required = true) {
  out = reinterpret_cast<Fn>(dlsym(handle, symbol));
  if (out == nullptr && required) {
    return Status::unavailable("%s has no symbol %s (rdma-core too old?)", libraryName, symbol);
  }
  return Status::ok();
}

}  // namespace

Result<IbVerbsApi> loadIbVerbsApi(const char* libraryName) {
  IbVerbsApi api;
  // RTLD_LOCAL: verbs symbols must not leak into the global namespace, where
  // they could satisfy some other library's undefined references.
  api.handle = dlopen(libraryName, RTLD_NOW | RTLD_LOCAL);
  if (api.handle == nullptr) {
    const char* why = dlerror();
    return Status::unavailable("%s not found (%s); install rdma-core's libibverbs to use InfiniBand/RoCE",
                               libraryName, why ? why : "dlopen failed");
  }
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_get_device_list", api.getDeviceList));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_free_device_list", api.freeDeviceList));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_get_device_name", api.getDeviceName));
#ifdef LOOM_HAVE_IBVERBS
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_open_device", api.openDevice));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_close_device", api.closeDevice));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_query_device", api.queryDevice));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_query_port", api.queryPort));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_query_gid", api.queryGid));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "_ibv_query_gid_ex", api.queryGidEx, /*required=*/false));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_alloc_pd", api.allocPd));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_dealloc_pd", api.deallocPd));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_reg_mr", api.regMr));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_dereg_mr", api.deregMr));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_create_cq", api.createCq));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_destroy_cq", api.destroyCq));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_create_qp", api.createQp));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_modify_qp", api.modifyQp));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_destroy_qp", api.destroyQp));
  LOOM_RETURN_IF_ERROR(resolve(api.handle, libraryName, "ibv_wc_status_str", api.wcStatusStr));
#endif
  return api;
}

Result<const IbVerbsApi*> ibVerbsApi() {
  // Loaded once: dlopen/dlclose cycles of libibverbs reload its providers, and
  // every connection needs the same table anyway.
  static std::once_flag once;
  // Never freed: connections may still use it while statics are destroyed.
  static Result<IbVerbsApi>* loaded = nullptr;
  std::call_once(once, [] { loaded = new Result<IbVerbsApi>(loadIbVerbsApi("libibverbs.so.1")); });
  if (!loaded->isOk()) return loaded->status();
  return &loaded->value();
}

}  // namespace loom
