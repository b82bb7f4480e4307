// Reference-counted ownership of native storages. Every Tensor object (views included)
// owns one reference; the storage is freed when the last one is released, by dispose(),
// by a scope, or by the FinalizationRegistry safety net when a tensor is garbage collected.
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

/** Frees a tensor's reference when the tensor object is collected without dispose(). */
export const finalizer = new FinalizationRegistry<StorageRef>((ref) => ref.release());

/** Live native storages (for leak tests): buffer counts and bytes per device. */
export function liveStorages() {
  return native.liveStorages();
}
