"""Throughput with 1, 2 and 4 trials packed on one GPU, and the GPU's utilisation.

Each "trial" is a separate process (as Ray runs trials packed with ``--gpus-per-trial 0.5`` or
``0.25``) that builds one model at the published size (``bench_models.make_step``: U-Net, ViT
at 320x320, VarNet on 15x640x368 k-space, ResNet-18 classifier on 320x320, batch as there)
and runs training steps for ``--seconds`` after a warm-up. Reported per model and packing:
steps per second of each trial, their sum (the GPU's throughput), the speed-up of the sum over
one trial alone, the mean GPU utilisation and the peak memory used (``nvidia-smi``, sampled
every 0.5 s while the trials run).

No GPU was lent when this was written: ``--device cpu --quick`` runs the same code path on the
tiny presets (utilisation then reads n/a), which is how the tests keep it working. ``--quick``
packs 1 and 2 trials and counts steps for 1 s; on the CPU its trials are forked from this
process (which has imported torch and the models but run nothing) instead of spawned, so
they skip the imports: a fresh process is only needed for CUDA.

    python bench/bench_gpu_packing.py [--models unet varnet vit resnet] [--packing 1 2 4]
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing as mp
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from bench_models import make_step  # noqa: E402


def trial(kind: str, preset: str, device: str, seconds: float, start, ready, queue) -> None:
    """One packed trial: warm up, wait for the others, then count steps for ``seconds``."""
    torch.set_num_threads(1)
    dev = torch.device(device)
    _, step, _, _ = make_step(kind, preset, dev)
    step()
    step()
    ready.put(True)
    start.wait()
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        steps += 1
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    queue.put(steps / (time.perf_counter() - t0))


class GpuSampler(threading.Thread):
    """Utilisation (%) and memory used (MiB) of GPU 0 from ``nvidia-smi``, every 0.5 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()
        self.available = shutil.which("nvidia-smi") is not None

    def run(self) -> None:
        while self.available and not self._halt.is_set():
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                 "--format=csv,noheader,nounits", "--id=0"],
                capture_output=True, text=True, check=False).stdout.strip()
            if out:
                util, mem = (float(v) for v in out.split(","))
                self.samples.append((util, mem))
            time.sleep(0.5)

    def stop(self) -> tuple[float, float]:
        self._halt.set()
        self.join()
        if not self.samples:
            return float("nan"), float("nan")
        return statistics.mean(u for u, _ in self.samples), max(m for _, m in self.samples)


def packed(kind: str, preset: str, device: str, n: int, seconds: float,
           start_method: str = "spawn"):
    ctx = mp.get_context(start_method)  # spawn: CUDA cannot be re-initialised in a forked child
    start, ready, queue = ctx.Event(), ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=trial, args=(kind, preset, device, seconds, start, ready, queue))
             for _ in range(n)]
    for proc in procs:
        proc.start()
    for _ in procs:  # every trial warmed up: count them all over the same window
        ready.get(timeout=600)
    sampler = GpuSampler()
    sampler.start()
    start.set()
    rates = [queue.get(timeout=seconds + 600) for _ in procs]
    util, mem = sampler.stop()
    for proc in procs:
        proc.join()
    return rates, util, mem


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["unet", "varnet", "vit", "resnet"])
    p.add_argument("--packing", nargs="+", type=int, default=[1, 2, 4])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true", help="tiny presets, 1 and 2 trials, 1 s; "
                   "on the CPU, trials forked")
    args = p.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA device: run on a GPU machine, or --device cpu --quick to check the code")
    preset = "tiny" if args.quick else "base"
    packing = [1, 2] if args.quick else args.packing
    seconds = 1.0 if args.quick else args.seconds
    # this process never runs torch itself, so a forked trial starts clean (CPU only)
    start_method = "fork" if args.quick and not args.device.startswith("cuda") else "spawn"
    if start_method == "fork":
        importlib.import_module("torch._dynamo")  # what torch.optim imports on first use
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    print(f"device {name}, torch {torch.__version__}, preset {preset}, {seconds:.0f} s per run")
    print("| model | trials | steps/s per trial | steps/s total | vs 1 trial | GPU util % "
          "| GPU MiB peak |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind in args.models:
        alone = None
        for n in packing:
            rates, util, mem = packed(kind, preset, args.device, n, seconds, start_method)
            total = sum(rates)
            alone = alone or total
            print(f"| {kind} | {n} | {statistics.mean(rates):.2f} | {total:.2f} "
                  f"| {total / alone:.2f}x | {util:.0f} | {mem:.0f} |", flush=True)


if __name__ == "__main__":
    main()
