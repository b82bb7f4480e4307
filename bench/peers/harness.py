"""The PyTorch side of the benchmarks' timing (the same steps as bench/lib/stats.ts):
`warmup` untimed runs, one calibration run that sets how many runs make up a sample (at least
`minSampleMs` long), then `repeats` samples; the result is the median time per run. On CUDA
every sample ends with torch.cuda.synchronize().

Peers read their spec as JSON on stdin and print one JSON document on stdout."""
import json
import math
import statistics
import sys
import time

import torch


def read_spec():
    return json.loads(sys.stdin.read())


def setup(spec):
    """Threads and device from the spec; returns the torch.device."""
    torch.set_num_threads(int(spec["threads"]))
    torch.manual_seed(0)
    return torch.device(spec["device"])


def sync_fn(device):
    if device.type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def measure(run, sync, timing):
    """Median milliseconds per run of `run` (see the module docstring)."""
    for _ in range(int(timing["warmup"])):
        run()
    sync()
    t0 = time.perf_counter()
    run()
    sync()
    once_ms = (time.perf_counter() - t0) * 1e3
    min_ms = float(timing["minSampleMs"])
    inner = 1 if min_ms <= 0 else max(1, math.ceil(min_ms / max(once_ms, 1e-3)))
    samples = []
    for _ in range(max(1, int(timing["repeats"]))):
        t0 = time.perf_counter()
        for _ in range(inner):
            run()
        sync()
        samples.append((time.perf_counter() - t0) * 1e3 / inner)
    return {"ms": statistics.median(samples), "minMs": min(samples), "inner": inner, "repeats": len(samples)}


def compile_support(device):
    """(usable, why not): torch.compile exists from torch 2.0; it is only asked for on CUDA."""
    if not hasattr(torch, "compile"):
        return False, f"torch {torch.__version__} has no torch.compile (needs 2.0 or newer)"
    if device.type != "cuda":
        return False, "torch.compile is benchmarked on CUDA only"
    return True, None


def start():
    """The spec from stdin, its device (threads and seed set), that device's sync function and
    the spec's timing: what every peer's main begins with."""
    spec = read_spec()
    dev = setup(spec)
    return spec, dev, sync_fn(dev), spec["timing"]


def compile_plan(spec, device):
    """(whether to time torch.compile too, the note for the JSON document): when the spec asks
    for it and torch can; the note says why not otherwise, and is None when it was not asked."""
    if not spec.get("compile"):
        return False, None
    ok, why_not = compile_support(device)
    return ok, "torch.compile" if ok else f"skipped: {why_not}"


def document(device, compile_note, rows, **extra):
    """The JSON document a peer prints: who ran, where, the compile note and the rows."""
    return {"peer": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(), "device": str(device),
            "compile": compile_note, "rows": rows, **extra}


def blas_library():
    """The BLAS library mapped into this process (libopenblas, libblas for the reference one,
    libmkl...), as the dynamic loader resolved it: torch's build info says only 'generic'."""
    import os.path
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() or "mkl" in line.lower()}
    except OSError:
        return "unknown"
    names = sorted({os.path.realpath(p) for p in paths if p.startswith("/") and "lapack" not in p})
    return ", ".join(names) if names else "none mapped"


def gemm_peak(device, timing):
    n = 4096 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    t = measure(lambda: torch.mm(a, b), sync_fn(device), {**timing, "minSampleMs": max(float(timing["minSampleMs"]), 50)})
    # the fastest sample: a peak, as bench/lib/context.ts counts it
    return {"n": n, "ms": t["minMs"], "gflops": 2 * n ** 3 / t["minMs"] / 1e6}


def emit(doc):
    print(json.dumps(doc))
