"""PyTorch peer of bench/model.ts: one model (JSON spec on stdin) timed like repmlp times it
(harness.py): the training step (AdamW, weight decay 0.05 on tensors of 2+ dims, cross-entropy
with label smoothing 0.1) split into forward + loss, backward and optimizer step, each ended by
a synchronisation (torch.cuda.synchronize on CUDA; the step ends by reading the loss); then
inference (eval mode, no_grad) of the training form and of the deploy form (Locality Injection
by deploy_state for RepMLPNet; to_deploy, every RepMLP converted and every BN fused, for the
2021 models), at the spec's batch and at batch 1 (latency). On CUDA it also runs everything
through torch.compile when torch has it. The document also gives torch's measured matmul rate
(gemm_peak) and the BLAS library the process mapped, so that a reference-BLAS build shows.
Peak memory: torch.cuda.max_memory_allocated on CUDA, else how far the process's max RSS
rose above its RSS before the model was built (one process per model).
The spec's model.arch picks the family: RepMLPNet (repmlpnet_torch.py, cfg in its keys),
RepMLPResNet (repmlp_resnet_torch.py) or RepMLPCifar (repmlp_cifar_torch.py), whose cfg is
repmlp's own config."""
import copy
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import blas_library, compile_support, emit, gemm_peak, measure, read_spec, setup, sync_fn  # noqa: E402
from repmlpnet_torch import RepMLPNet, deploy_state  # noqa: E402
import repmlp_resnet_torch  # noqa: E402
from repmlp_resnet_torch import RepMLPResNet, to_deploy  # noqa: E402
from repmlp_cifar_torch import RepMLPCifarNet  # noqa: E402


def conv_fc_columns(self, kernel):
    """RepMLP.conv_fc (the FC weight of the merged conv kernel) from the conv of every basis
    vector of a partition at once: the Jacobian's columns, the conv being linear. The same
    matrix as the peer's autograd Jacobian, in seconds where that takes minutes on the 224
    models' RepMLPs (6272 inputs); the conversion is not timed, only its result is."""
    C, O, h, w, g = self.C, self.O, self.h, self.w, self.g
    basis = torch.eye(C * h * w, dtype=kernel.dtype).reshape(-1, C, h, w)
    J = F.conv2d(basis, kernel, padding=kernel.shape[2] // 2, groups=g).flatten(1).T
    ro, ci = O * h * w // g, C * h * w // g
    return torch.cat([J[i * ro:(i + 1) * ro, i * ci:(i + 1) * ci] for i in range(g)])


repmlp_resnet_torch.RepMLP.conv_fc = conv_fc_columns


def family(m):
    """(classes, build the training form, the deploy form of a trained model) of the spec's model."""
    arch = m.get("arch", "RepMLPNet")
    if arch == "RepMLPNet":
        cfg = {**m["cfg"], "reduce": 4}

        def deploy(model):
            deployed = RepMLPNet(cfg, deploy=True).to(next(model.parameters()).device)
            deployed.load_state_dict(deploy_state(model.eval()))
            return deployed
        return cfg["classes"], lambda: RepMLPNet(cfg), deploy
    cfg = m["cfg"]
    if arch == "RepMLPResNet":
        build = lambda: RepMLPResNet(cfg)  # noqa: E731
    elif arch == "RepMLPCifar":
        build = lambda: RepMLPCifarNet(cfg)  # noqa: E731
    else:
        raise ValueError(f"unknown model arch {arch!r}")

    def deploy(model):
        with torch.no_grad():
            return to_deploy(copy.deepcopy(model).eval())
    return cfg["numClasses"], build, deploy


def train_steps(model, x, y, dev, warmup, steps):
    sync = sync_fn(dev)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    phases = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        sync()
        t1 = time.perf_counter()
        loss.backward()
        sync()
        t2 = time.perf_counter()
        opt.step()
        loss.item()
        t3 = time.perf_counter()
        if i >= warmup:
            phases.append(((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t3 - t0) * 1e3))
    med = [statistics.median(p[j] for p in phases) for j in range(4)]
    return {"ms": med[3], "forwardMs": med[0], "backwardMs": med[1], "optimizerMs": med[2], "steps": len(phases)}


def inference(model, x, dev, timing):
    model.eval()

    def run():
        with torch.no_grad():
            model(x)
    return measure(run, sync_fn(dev), timing)


def current_rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_bytes(dev, rss_before):
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before


def run_all(spec, dev, wrap):
    m = spec["model"]
    classes, build, deploy = family(m)
    B, (C, H, W) = spec["batch"], m["input"]
    x = torch.randn(B, C, H, W, device=dev)
    y = torch.randint(0, classes, (B,), device=dev)
    rss_before = current_rss()
    model = build().to(dev).train()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    train = train_steps(wrap(model), x, y, dev, spec["warmup"], spec["steps"])
    peak = peak_bytes(dev, rss_before)
    infer_train = inference(wrap(model), x, dev, spec["timing"])
    deployed = deploy(model)
    infer_deploy = inference(wrap(deployed), x, dev, spec["timing"])
    latency = inference(wrap(deployed), x[:1], dev, spec["timing"])
    return {"train": train, "inferTrainForm": infer_train, "inferDeploy": infer_deploy, "latency": latency, "peakMemoryBytes": peak}


def main():
    spec = read_spec()
    dev = setup(spec)
    gemm = gemm_peak(dev, spec["timing"])
    eager = run_all(spec, dev, lambda m: m)
    compiled, note = None, None
    if spec.get("compile"):
        ok, why_not = compile_support(dev)
        if ok:
            compiled = run_all(spec, dev, torch.compile)
            note = "torch.compile"
        else:
            note = f"skipped: {why_not}"
    emit({
        "peer": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(), "device": str(dev),
        "memory": "torch.cuda.max_memory_allocated" if dev.type == "cuda" else "max RSS growth",
        "gemmPeak": gemm, "blas": blas_library(),
        **eager, "compiled": compiled, "compile": note,
    })


if __name__ == "__main__":
    main()
