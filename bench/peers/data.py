"""The torchvision side of bench/data.ts: ImageFolder + DataLoader over the same folder, with
RandomResizedCrop(size) + RandomHorizontalFlip + ToTensor + Normalize, the same worker count
and batch size. One untimed pass starts the workers (persistent), then `repeats` timed passes;
prints images per second of each pass as one JSON document."""
import json
import sys
import time

import torch
import torchvision
import torchvision.transforms as T


def main():
    spec = json.loads(sys.stdin.read())
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tf = T.Compose([T.RandomResizedCrop(spec["size"]), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = torchvision.datasets.ImageFolder(spec["dir"], transform=tf)
    workers = int(spec["workers"])
    dl = torch.utils.data.DataLoader(ds, batch_size=spec["batch"], shuffle=True, num_workers=workers,
                                     persistent_workers=workers > 0, prefetch_factor=2 if workers > 0 else None)
    rates = []
    for p in range(int(spec["repeats"]) + 1):
        t0, n = time.perf_counter(), 0
        for x, y in dl:
            n += x.shape[0]
        if p > 0:
            rates.append(n / (time.perf_counter() - t0))
    print(json.dumps({"peer": f"torchvision {torchvision.__version__} (PIL), torch {torch.__version__}", "threads": 1,
                      "compile": None, "rates": rates, "images": len(ds)}))


if __name__ == "__main__":
    main()
