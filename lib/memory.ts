// Memory of the native allocators: statistics per device (for benchmarks, leak checks and
// tuning batch sizes), emptying the caches, and poisoning of new allocations for tests.
import { describe, fail } from './errors';
import { native, type Device } from './native';

/** One device's allocator statistics. Bytes are counted in the allocator's rounded block sizes. */
export interface MemStats {
  /** bytes in blocks held by live tensors (and kernels' scratch while they run) */
  allocatedBytes: number;
  /** allocatedBytes plus the bytes kept in the cache for reuse */
  reservedBytes: number;
  /** the most allocatedBytes has been since the start or resetPeakMemoryStats() */
  peakAllocatedBytes: number;
  peakReservedBytes: number;
  /** blocks handed out now */
  allocations: number;
  /** calls to the system allocator (malloc / cudaMalloc) so far */
  systemAllocs: number;
  /** allocations served from the cache so far */
  cacheHits: number;
}

function checkDevice(op: string, device: unknown): Device {
  if (device !== 'cpu' && device !== 'cuda') fail(op, 'device', "'cpu' or 'cuda'", describe(device));
  return device;
}

function statsOf(device: Device): MemStats {
  const s = native.memoryStats(device);
  return {
    allocatedBytes: s.allocated,
    reservedBytes: s.reserved,
    peakAllocatedBytes: s.peakAllocated,
    peakReservedBytes: s.peakReserved,
    allocations: s.blocks,
    systemAllocs: s.systemAllocs,
    cacheHits: s.cacheHits,
  };
}

/**
 * Allocator statistics of the CPU and (when this build has CUDA) the CUDA device. Host memory
 * comes from a caching allocator too (REPMLP_CPU_CACHE_MB caps its cache), so both report the
 * same fields.
 */
export function memoryStats(): { cpu: MemStats; cuda: MemStats | null } {
  return { cpu: statsOf('cpu'), cuda: native.runtimeInfo().cudaCompiled ? statsOf('cuda') : null };
}

/** Starts the peak counters again from the current use, on one device or on both. */
export function resetPeakMemoryStats(device?: Device): void {
  const devices: Device[] = device === undefined ? ['cpu', 'cuda'] : [checkDevice('resetPeakMemoryStats', device)];
  for (const d of devices) native.resetPeakMemoryStats(d);
}

/**
 * Returns the cached, unused blocks of a device's allocator to the system (cudaFree waits
 * for the GPU). Live tensors are untouched. Useful before handing the GPU to another process.
 */
export function emptyCache(device?: Device): void {
  const devices: Device[] = device === undefined ? ['cpu', 'cuda'] : [checkDevice('emptyCache', device)];
  for (const d of devices) native.emptyCache(d);
}

/**
 * While on, every new tensor's memory is filled with 0xFF bytes (NaN as float32, -1 as
 * int64) instead of left as it was, so a kernel that does not write all of its output is
 * caught by the tests. Off by default (REPMLP_POISON=1 turns it on at load). Returns the
 * setting now in force.
 */
export function setPoison(on: boolean): boolean {
  if (typeof on !== 'boolean') fail('setPoison', 'on', 'a boolean', describe(on));
  return native.setPoison(on);
}
