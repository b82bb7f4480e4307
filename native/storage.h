// The JS-visible Storage: one flat allocation on the CPU or a CUDA device.
//
// A Storage object is a plain JS object made by the native Storage constructor: type-tagged
// as ours, with an own read-only, non-configurable property (under a private symbol) holding
// the index of its entry in the storage table. The table keeps a weak reference to each
// object and no finalizer at all. So:
//   - dispose() frees the memory at once (TypeScript tensors call it through their
//     reference counts and scopes);
//   - memory whose object was garbage collected without dispose() is freed by a sweep of the
//     table, run from the allocations themselves: Node-API clears weak references during the
//     collection, so this does not wait for the event loop, and a synchronous loop that drops
//     tensors keeps its memory bounded;
//   - nothing is left queued per storage for the event loop (a finalizer would be), so a
//     synchronous loop of disposed tensors keeps the process flat too.
// Resolving an argument never runs JS code (a tag check and an own data property), and
// every storage a binding resolves is pinned until the binding returns: JS code that runs
// while later arguments are converted (a getter) may dispose it, and the memory then goes
// only when the call is over.
#pragma once
#include <napi.h>

#include "common.h"

namespace repmlp {

// The live storage behind v, pinned until unpin(); throws an Error naming `op` and `name`
// when v is not a Storage or was disposed.
Storage& pin_storage(napi_env env, napi_value v, const char* op, const char* name);
void unpin_storage(napi_env env, const Storage& s);
// The storage behind v without pinning it, or nullptr when v is not a live Storage.
const Storage* peek_storage(napi_env env, napi_value v);

// Frees the memory of every storage whose object the collector has taken (run by the
// allocations; also before live counts and statistics are read, so that they are exact).
void sweep_storages(napi_env env);

// What kind of JS value v is, for error messages ("a number", "an object", ...).
std::string value_kind(napi_env env, napi_value v);

// The Storage class: new Storage(device, dtype, numel) with dispose(), read(), write() and
// the numel, dtype, device and disposed getters.
Napi::Function storage_class(Napi::Env env);

}  // namespace repmlp
