"""PyTorch peer of bench/fusion.ts: BatchNorm2d followed by F.relu, F.gelu (exact) or the
addition of a residual, timed with harness.py's methodology: eval mode without gradients, and
a training-mode forward + backward to the input, the BN's parameters and the residual. On
CUDA each case also runs through torch.compile (which fuses the pair) when torch has it.
Reads the cases as JSON on stdin and prints one JSON document."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import compile_support, emit, measure, read_spec, setup, sync_fn  # noqa: E402


class BnThen(torch.nn.Module):
    """bn(x) then the op that repmlp fuses into the BN's output pass."""

    def __init__(self, C, fused):
        super().__init__()
        self.bn = torch.nn.BatchNorm2d(C)
        self.fused = fused

    def forward(self, x, r):
        y = self.bn(x)
        if self.fused == "relu":
            return F.relu(y)
        if self.fused == "gelu":
            return F.gelu(y)
        return y + r


def runners(module, x, r, g):
    leaves = (x, r)

    def infer():
        with torch.no_grad():
            module(x, r)

    def train():
        for t in leaves:
            t.grad = None
        module.zero_grad(set_to_none=True)
        module(x, r).backward(g)
    return infer, train


def main():
    spec = read_spec()
    dev = setup(spec)
    sync = sync_fn(dev)
    timing = spec["timing"]
    can_compile, why_not = compile_support(dev)
    want_compile = bool(spec.get("compile"))
    rows = []
    for c in spec["cases"]:
        shape = c["shape"]
        module = BnThen(shape[1], c["fused"]).to(dev)
        x = torch.randn(*shape, device=dev, requires_grad=True)
        r = torch.randn(*shape, device=dev, requires_grad=c["fused"] == "residual")
        g = torch.randn(*shape, device=dev)
        row = {"id": c["id"], "compiledInfer": None, "compiledTrain": None}
        variants = [("", module)]
        if want_compile and can_compile:
            variants.append(("compiled", torch.compile(module)))
        for prefix, m in variants:
            infer, train = runners(m, x, r, g)
            module.eval()
            t_infer = measure(infer, sync, timing)
            module.train()
            t_train = measure(train, sync, timing)
            if prefix:
                row["compiledInfer"], row["compiledTrain"] = t_infer, t_train
            else:
                row["infer"], row["train"] = t_infer, t_train
        rows.append(row)
    emit({
        "peer": f"pytorch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "device": str(dev),
        "compile": None if not want_compile else ("torch.compile" if can_compile else f"skipped: {why_not}"),
        "rows": rows,
    })


if __name__ == "__main__":
    main()
