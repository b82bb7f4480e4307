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
from harness import compile_plan, document, emit, measure, start  # noqa: E402


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


def timings(fn, module, x, r, g, sync, timing):
    """(eval, train) medians of fn (the module, or its compiled form): eval mode without
    gradients, then a training-mode forward + backward."""
    leaves = (x, r)

    def infer():
        with torch.no_grad():
            fn(x, r)

    def train():
        for t in leaves:
            t.grad = None
        module.zero_grad(set_to_none=True)
        fn(x, r).backward(g)
    module.eval()
    t_infer = measure(infer, sync, timing)
    module.train()
    return t_infer, measure(train, sync, timing)


def main():
    spec, dev, sync, timing = start()
    use_compile, compile_note = compile_plan(spec, dev)
    rows = []
    for c in spec["cases"]:
        shape = c["shape"]
        module = BnThen(shape[1], c["fused"]).to(dev)
        x = torch.randn(*shape, device=dev, requires_grad=True)
        r = torch.randn(*shape, device=dev, requires_grad=c["fused"] == "residual")
        g = torch.randn(*shape, device=dev)
        row = {"id": c["id"], "compiledInfer": None, "compiledTrain": None}
        row["infer"], row["train"] = timings(module, module, x, r, g, sync, timing)
        if use_compile:
            row["compiledInfer"], row["compiledTrain"] = timings(torch.compile(module), module, x, r, g, sync, timing)
        rows.append(row)
    emit(document(dev, compile_note, rows))


if __name__ == "__main__":
    main()
