"""PyTorch peer of bench/fc.ts: times the same cases (read as JSON on stdin) with the same
methodology (harness.py) and prints one JSON document.

Case kinds: "fc" (the set-sharing FC as the reference code runs it: a grouped 1x1 conv over
(N*C/S, S*h*w, 1, 1)), "conv" (F.conv2d, padding k // 2), "block" (RepMLPBlock of
repmlpnet_torch.py, training or deploy form, forward in eval mode or forward + backward in
training mode). On CUDA each case also runs through torch.compile when torch has it."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import compile_plan, document, emit, gemm_peak, measure, start  # noqa: E402
from repmlpnet_torch import RepMLPBlock  # noqa: E402


def fc_case(c, dev):
    N, C, h, w, S = c["N"], c["C"], c["h"], c["w"], c["S"]
    hw = h * w
    x = torch.randn(N, C, h, w, device=dev)
    weight = torch.randn(S * hw, hw, 1, 1, device=dev) / hw ** 0.5

    def fn(x, weight):
        return F.conv2d(x.reshape(-1, S * hw, 1, 1), weight, groups=S).reshape(N, C, h, w)
    return fn, (x, weight), False


def conv_case(c, dev):
    N, C, h, w, k, Cout, G = c["N"], c["C"], c["h"], c["w"], c["k"], c["Cout"], c["groups"]
    x = torch.randn(N, C, h, w, device=dev)
    weight = torch.randn(Cout, C // G, k, k, device=dev) / (C // G * k * k) ** 0.5

    def fn(x, weight):
        return F.conv2d(x, weight, padding=k // 2, groups=G)
    return fn, (x, weight), False


def block_case(c, dev):
    N, C, h, w, S = c["N"], c["C"], c["h"], c["w"], c["S"]
    deploy = c["form"] == "deploy"
    block = RepMLPBlock(C, h, w, c["ks"], 4, S, deploy).to(dev)
    x = torch.randn(N, C, h, w, device=dev)
    if c["mode"] == "eval":
        block.eval()
        return block, (x,), False
    block.train()
    x.requires_grad_(True)
    return block, (x,), True


BUILD = {"fc": fc_case, "conv": conv_case, "block": block_case}


def runner(fn, args, backward):
    if backward:
        def run():
            for a in args:
                a.grad = None
            if isinstance(fn, torch.nn.Module):
                fn.zero_grad(set_to_none=True)
            fn(*args).sum().backward()
    else:
        def run():
            with torch.no_grad():
                fn(*args)
    return run


def main():
    spec, dev, sync, timing = start()
    use_compile, compile_note = compile_plan(spec, dev)
    rows = []
    for c in spec["cases"]:
        fn, args, backward = BUILD[c["kind"]](c, dev)
        row = {"id": c["id"], "eager": measure(runner(fn, args, backward), sync, timing), "compiled": None}
        if use_compile:
            row["compiled"] = measure(runner(torch.compile(fn), args, backward), sync, timing)
        rows.append(row)
    emit(document(dev, compile_note, rows, gemmPeak=gemm_peak(dev, timing)))


if __name__ == "__main__":
    main()
