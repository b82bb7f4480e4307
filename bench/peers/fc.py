"""PyTorch peer of bench/fc.ts: times the same cases (read as JSON on stdin) with the same
methodology (harness.py) and prints one JSON document.

Case kinds: "fc" (the set-sharing FC as the reference code runs it: a grouped 1x1 conv over
(N*C/S, S*h*w, 1, 1)), "conv" (F.conv2d, padding k // 2), "block" (RepMLPBlock of
repmlpnet_torch.py, training or deploy form, forward in eval mode or forward + backward in
training mode), "resnet" (a ResNet-50 layer: F.conv2d with stride and padding, or F.max_pool2d;
forward under no_grad, or forward + backward of sum(y) with the gradient of the weight and,
unless inputGrad is false, of the input). On CUDA each case also runs through torch.compile when torch has it."""
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


def resnet_case(c, dev):
    N, C, h, w, k, Cout = c["N"], c["C"], c["h"], c["w"], c["k"], c["Cout"]
    stride, padding, backward = c["stride"], c["padding"], c["mode"] != "eval"
    x = torch.randn(N, C, h, w, device=dev)
    if c["op"] == "maxpool":
        x.requires_grad_(backward)
        return (lambda x: F.max_pool2d(x, k, stride, padding)), (x,), backward
    weight = (torch.randn(Cout, C, k, k, device=dev) / (C * k * k) ** 0.5).requires_grad_(backward)
    x.requires_grad_(backward and c["inputGrad"])

    def fn(x, weight):
        return F.conv2d(x, weight, stride=stride, padding=padding)
    return fn, (x, weight), backward


BUILD = {"fc": fc_case, "conv": conv_case, "block": block_case, "resnet": resnet_case}


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
