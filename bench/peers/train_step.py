"""PyTorch peer of bench/train-step.ts: training-step throughput of RepMLPNet with the
same config and recipe (AdamW, weight decay on tensors of 2+ dims, label smoothing 0.1),
on random inputs, with a given thread count. Prints one JSON line.

usage: python3 bench/peers/train_step.py --config small --in 1 --size 32 --classes 10 \\
         --batch 64 --steps 20 --warmup 3 --threads 2"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from repmlpnet_torch import RepMLPNet  # noqa: E402

CONFIGS = {
    # The `small` preset of lib/models/presets.ts.
    "small": dict(patch=2, blocks=[2, 2, 2], channels=[32, 64, 128], hs=[16, 8, 4], ws=[16, 8, 4], S=[2, 4, 8]),
    "small-nolocal": dict(patch=2, blocks=[2, 2, 2], channels=[32, 64, 128], hs=[16, 8, 4], ws=[16, 8, 4], S=[2, 4, 8], ks=[]),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="small", choices=sorted(CONFIGS))
    ap.add_argument("--in", dest="inp", type=int, default=1)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = {"ks": [1, 3], "reduce": 4, **CONFIGS[a.config], "in": a.inp, "classes": a.classes}
    model = RepMLPNet(cfg).train()
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    x = torch.randn(a.batch, a.inp, a.size, a.size)
    y = torch.randint(0, a.classes, (a.batch,))
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({"peer": f"pytorch {torch.__version__}", "threads": a.threads, "batch": a.batch,
                      "msPerStep": med * 1e3, "imagesPerSecond": a.batch / med, "loss": float(loss)}))


if __name__ == "__main__":
    main()
