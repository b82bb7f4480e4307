// A float32 running sum kept on the device, so that a training step adds to it without
// waiting for the device; read() is the one place that does (through `reader`: the trainer
// of many ranks reads the sum over the ranks).
import { noGrad } from '../autograd';
import { tensor } from '../creation';
import { add } from '../ops/arithmetic';
import { keep } from '../scope';
import type { Device, Tensor } from '../tensor';

export class DeviceSum {
  private sum: Tensor;
  constructor(private readonly device: Device, start = 0, private readonly reader: (sum: Tensor) => number = (t) => t.item()) {
    this.sum = keep(tensor(Float32Array.of(start), [], { device }));
  }
  add(t: Tensor): void {
    noGrad(() => {
      const s = keep(add(this.sum, t));
      this.sum.dispose();
      this.sum = s;
    });
  }
  read(): number {
    return this.reader(this.sum);
  }
  reset(start = 0): void {
    this.sum.dispose();
    this.sum = keep(tensor(Float32Array.of(start), [], { device: this.device }));
  }
  dispose(): void {
    this.sum.dispose();
  }
}
