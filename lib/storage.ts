// Reference-counted ownership of native storages. Every Tensor object (views included)
// owns one reference; the storage is freed when the last one is released, by dispose() or
// by a scope. A storage whose tensors are all garbage collected without dispose() is freed
// by the native side (native/storage.h): its table holds a weak reference to the native
// object and sweeps it from the allocations themselves, without waiting for the event loop.
import { native, type Device, type DType, type NativeStorage } from './native';

export class StorageRef {
  private refs = 1;
  constructor(readonly raw: NativeStorage) {}

  static alloc(device: Device, dtype: DType, numel: number): StorageRef {
    return new StorageRef(new native.Storage(device, dtype, numel));
  }

  get refCount(): number {
    return this.refs;
  }

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs > 0 && --this.refs === 0) this.raw.dispose();
  }
}

/** Live native storages (for leak tests): buffer counts and bytes per device. */
export function liveStorages() {
  return native.liveStorages();
}
