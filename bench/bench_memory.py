"""Peak memory per trial as concurrent trials grow from 1 to 4, the shared data counted once.

Runs ``norm_sweep``'s trainable (the tiny ResNet on the single-coil ``diagnosis`` data, every
evaluation set each epoch) as ``N`` concurrent Tune trials for N = 1..4 on a local Ray with
2 CPUs (``2/N`` CPUs per trial), and samples every trial worker process (``ray::ImplicitFunc``)
every 0.5 s with psutil:

- ``USS``: memory only that process holds (its model, optimiser, activations, Python and torch
  runtime): what each extra trial costs;
- ``RSS``: everything it maps, including the study's data bundle, which every trial on a node
  maps read-only from Ray's shared object store (``tune.with_parameters``) instead of copying;
- the bundle's size, counted once per node.

Prints, per N, the peak USS and RSS of one trial, the object-store pages a trial maps (the
bundle, read in place: resident in the worker, shared, not copied), the peak of the USS summed
over the trials alive at one moment, and the node's total as that sum plus the bundle, against
the ``sum + N x bundle`` a copy per trial would cost.

    python bench/bench_memory.py [--quick]

``--quick``: the tiny data, N = 1 and 2 only, two epochs of 5 steps per trial.

Only this process's descendants are sampled (every process of the Ray it starts is one): a
trial of another Ray on the same machine is not one of these.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time

os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

import numpy as np  # noqa: E402
import psutil  # noqa: E402

MB = 2**20


def bundle_bytes(obj) -> int:
    """Bytes of every NumPy array reachable through dataclasses, dicts and lists."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(bundle_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(bundle_bytes(v) for v in obj)
    if hasattr(obj, "__dataclass_fields__"):
        return sum(bundle_bytes(getattr(obj, f)) for f in obj.__dataclass_fields__)
    return 0


class TrialSampler(threading.Thread):
    """Peaks, over the run, of each trial worker's USS and RSS, of the sum of USS over the
    workers alive at one moment, and of the object-store pages a worker maps."""

    def __init__(self, period: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.peak: dict[int, tuple[int, int]] = {}
        self.concurrent = 0
        self.total_uss = 0
        self.store_mapped = 0
        self._halt = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._halt.is_set():
            workers = [p for p in me.children(recursive=True) if _is_trial(p)]
            total = 0
            for proc in workers:
                try:
                    info = proc.memory_full_info()
                    mapped = _object_store_rss(proc)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += info.uss
                uss, rss = self.peak.get(proc.pid, (0, 0))
                self.peak[proc.pid] = (max(uss, info.uss), max(rss, info.rss))
                self.store_mapped = max(self.store_mapped, mapped)
            self.concurrent = max(self.concurrent, len(workers))
            self.total_uss = max(self.total_uss, total)
            time.sleep(self.period)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _is_trial(proc: psutil.Process) -> bool:
    """A Tune function-trial worker (its process title is ``ray::ImplicitFunc...``)."""
    try:
        title, cmdline = proc.name(), " ".join(proc.cmdline())
    except psutil.Error:  # exited since the listing
        return False
    return "ImplicitFunc" in title or "ImplicitFunc" in cmdline


def _object_store_rss(proc: psutil.Process) -> int:
    """Resident bytes of the process's mappings of Ray's shared object store (plasma)."""
    return sum(m.rss for m in proc.memory_maps(grouped=True)
               if "plasma" in m.path or m.path.startswith("/dev/shm"))


def run_trials(n: int, data, config: dict, storage: str) -> TrialSampler:
    from ray import tune

    from trainables.diagnosis import train_diagnosis

    sampler = TrialSampler()
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(train_diagnosis, data=data), {"cpu": 2 / n}),
        param_space={**config, "seed": tune.grid_search(list(range(n)))},
        tune_config=tune.TuneConfig(max_concurrent_trials=n, reuse_actors=False),
        run_config=tune.RunConfig(storage_path=storage, name=f"mem{n}", verbose=0),
    )
    sampler.start()
    grid = tuner.fit()
    sampler.stop()
    assert not grid.errors, grid.errors
    return sampler


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny data, 1 and 2 trials, two epochs "
                   "of 5 steps")
    args = p.parse_args()
    import ray

    from mri.synth.cache import ensure_synthetic_data
    from study.studies import get

    study = get("norm_sweep")
    if args.quick:
        study = study.smoke()  # tiny data
    data = study.build_data(ensure_synthetic_data(study.data_preset))
    shared = bundle_bytes(data)
    config = {"lr": 1e-3, "weight_decay": 1e-4, "batch_size": 16, "groups": 8,
              "steps_per_epoch": 5 if args.quick else 100, "max_epochs": 2 if args.quick else 3,
              "model": "resnet", "preset": "tiny", "norm_arm": "group", "norm": "group",
              "bn_eval": "running", "cpus_per_trial": 1}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    storage = tempfile.mkdtemp(prefix="bench_memory_")
    print(f"norm_sweep data ({study.data_preset} preset) bundle: {shared / MB:.1f} MB, in the "
          "object store once per node")
    print(f"{'trials':>6} {'seen':>5} {'USS/trial':>10} {'RSS/trial':>10} {'store mapped':>13} "
          f"{'sum USS':>9} {'node total':>11} {'copy per trial':>15}   (MB, peaks)")
    for n in (1, 2) if args.quick else (1, 2, 3, 4):
        peaks = run_trials(n, data, config, storage)
        uss = max(u for u, _ in peaks.peak.values())
        rss = max(r for _, r in peaks.peak.values())
        total = peaks.total_uss + shared
        print(f"{n:>6} {peaks.concurrent:>5} {uss / MB:>10.0f} {rss / MB:>10.0f} "
              f"{peaks.store_mapped / MB:>13.0f} {peaks.total_uss / MB:>9.0f} {total / MB:>11.0f} "
              f"{(peaks.total_uss + n * shared) / MB:>15.0f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
