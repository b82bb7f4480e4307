"""PyTorch peer of bench/fusion.ts: BatchNorm2d followed by F.relu, F.gelu (exact) or the
addition of a residual, and the end of a RepMLP block (un-partition by reshape / permute,
multiply by the gate, add the residual stream), timed with harness.py's methodology: eval mode
without gradients, and a training-mode forward + backward to every input and the BN's
parameters. On CUDA each case also runs through torch.compile (which fuses the ops) when torch
has it. Reads the cases as JSON on stdin and prints one JSON document."""
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


class GateEnd(torch.nn.Module):
    """unpartition(y) * gate + x: the end of a RepMLP block and the unit's residual add."""

    def __init__(self, H, W):
        super().__init__()
        self.H, self.W = H, W

    def forward(self, y, gate, x):
        C, h, w = y.shape[1:]
        H, W = self.H, self.W
        u = y.reshape(-1, H // h, W // w, C, h, w).permute(0, 3, 1, 4, 2, 5).reshape(-1, C, H, W)
        return u * gate + x


def timings(fn, module, inputs, g, sync, timing):
    """(eval, train) medians of fn (the module, or its compiled form): eval mode without
    gradients, then a training-mode forward + backward."""

    def infer():
        with torch.no_grad():
            fn(*inputs)

    def train():
        for t in inputs:
            t.grad = None
        module.zero_grad(set_to_none=True)
        fn(*inputs).backward(g)
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
        x = torch.randn(*shape, device=dev, requires_grad=True)
        if c["fused"] == "gate":
            N, C, H, W = shape
            h, w = c["parts"]
            module = GateEnd(H, W)
            y = torch.randn(N * (H // h) * (W // w), C, h, w, device=dev, requires_grad=True)
            gate = torch.randn(N, C, 1, 1, device=dev, requires_grad=True)
            inputs = (y, gate, x)
        else:
            module = BnThen(shape[1], c["fused"]).to(dev)
            inputs = (x, torch.randn(*shape, device=dev, requires_grad=c["fused"] == "residual"))
        g = torch.randn(*shape, device=dev)
        row = {"id": c["id"], "compiledInfer": None, "compiledTrain": None}
        row["infer"], row["train"] = timings(module, module, inputs, g, sync, timing)
        if use_compile:
            row["compiledInfer"], row["compiledTrain"] = timings(torch.compile(module), module, inputs, g, sync, timing)
        rows.append(row)
    emit(document(dev, compile_note, rows))


if __name__ == "__main__":
    main()
