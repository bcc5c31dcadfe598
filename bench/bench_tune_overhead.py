"""What Ray Tune adds over the same training loop run bare.

The loop is ``norm_sweep``'s trainable (``train_diagnosis``: the tiny pre-activation ResNet on
the single-coil ``diagnosis`` data, every test set evaluated each epoch, a checkpoint each
epoch), with ``steps_per_epoch`` chosen so one epoch takes about ``--epoch-seconds`` bare.

1. Per epoch: the loop run bare (a plain function call whose per-epoch ``report`` only saves the
   checkpoint with ``torch.save``, as a plain training script would) against the same config as
   a Tune trial; one trial alone, and two at once on two cores (two bare processes against two
   concurrent trials), one thread per trial in both. Per-epoch time is the time between
   consecutive reports (Tune's ``time_this_iter_s``); the first epoch is left out (warm-up).
   Bare and Tune runs alternate for ``--rounds`` rounds and their epochs are pooled, because
   this VM's speed drifts over minutes.
   Target: Tune within 10 % of bare for epochs of 10 s or more.
2. Per trial: ``K`` one-epoch trials in sequence with and without actor reuse; the time above
   ``K`` bare runs, divided by ``K``, is what Tune adds to start and finish a trial.

    python bench/bench_tune_overhead.py [--quick] [--epoch-seconds 12] [--rounds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
# Ray starts a 1-CPU trial's worker with OMP_NUM_THREADS=1; the bare loop gets the same, or its
# NumPy/BLAS calls (AUROC, evaluation) would use every core and the comparison would not be like
# for like (measured: bare two-at-once epochs 28 % slower than Tune's without this)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

import torch  # noqa: E402

import trainables.diagnosis as diagnosis  # noqa: E402

DATA = None  # the study's data bundle, built once before the bare processes fork


def base_config(steps: int, epochs: int) -> dict:
    return {
        "lr": 1e-3, "weight_decay": 1e-4, "batch_size": 32, "steps_per_epoch": steps,
        "max_epochs": epochs, "groups": 8, "model": "resnet", "preset": "tiny", "seed": 0,
        "norm_arm": "group", "norm": "group", "bn_eval": "running", "cpus_per_trial": 1,
    }


def bare_epochs(config: dict) -> list[float]:
    """Run the loop outside Tune; return the seconds between consecutive epoch ends (the first
    entry is from the call's start)."""
    stamps = [time.perf_counter()]
    folder = tempfile.mkdtemp(prefix="bench_bare_")

    def save_only(metrics: dict, state: dict) -> None:
        torch.save(state, Path(folder) / "state.pt")
        stamps.append(time.perf_counter())

    original = diagnosis.report
    diagnosis.report = save_only
    try:
        diagnosis.train_diagnosis(config, DATA)
    finally:
        diagnosis.report = original
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def _bare_worker(config: dict, queue) -> None:
    queue.put(bare_epochs(config))


def bare_parallel(config: dict, n: int) -> list[list[float]]:
    """``n`` bare loops at once in forked processes (the data shared copy-on-write)."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_bare_worker, args=(config, queue)) for _ in range(n)]
    for proc in procs:
        proc.start()
    out = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return out


class CpuAccount:
    """CPU seconds used while a block runs, split into Tune trial workers, Ray's other
    processes (raylet, GCS, idle workers) and this driver process. Processes are sampled every
    0.5 s, so those that start or exit during the block are counted too."""

    def __enter__(self) -> CpuAccount:
        self.base = {pid: cpu for pid, (_, cpu) in self._snapshot().items()}
        self.last: dict[int, tuple[str, float]] = {}
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self._halt.is_set():
            self.last.update(self._snapshot())
            time.sleep(0.5)

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        self._halt.set()
        self._thread.join()
        self.last.update(self._snapshot())
        self.used = {"trials": 0.0, "ray": 0.0, "driver": 0.0}
        for pid, (kind, cpu) in self.last.items():
            self.used[kind] += cpu - self.base.get(pid, 0.0)

    @staticmethod
    def _snapshot() -> dict[int, tuple[str, float]]:
        import psutil

        me = os.getpid()
        out = {}
        for proc in psutil.process_iter(["pid", "name", "cmdline", "cpu_times"]):
            name = proc.info["name"] or ""
            cmd = " ".join(proc.info["cmdline"] or [])
            times = proc.info["cpu_times"]
            if times is None:
                continue
            if proc.info["pid"] == me:
                kind = "driver"
            elif "ImplicitFunc" in name:
                kind = "trials"
            elif name.startswith("ray::") or "raylet" in name or "gcs_server" in name \
                    or "ray/" in cmd:
                kind = "ray"
            else:
                continue
            out[proc.info["pid"]] = (kind, times.user + times.system)
        return out


def tuned(config: dict, samples: int, concurrent: int, reuse: bool, storage: str):
    """Wall time of the Tune run and every trial's ``time_this_iter_s`` list."""
    from ray import tune

    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(diagnosis.train_diagnosis, data=DATA),
                            {"cpu": 1}),
        param_space=config,
        tune_config=tune.TuneConfig(num_samples=samples, reuse_actors=reuse,
                                    max_concurrent_trials=concurrent),
        run_config=tune.RunConfig(storage_path=storage, verbose=0,
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
    )
    t0 = time.perf_counter()
    grid = tuner.fit()
    elapsed = time.perf_counter() - t0
    assert not grid.errors, grid.errors
    epochs = [list(r.metrics_dataframe["time_this_iter_s"]) for r in grid]
    return elapsed, epochs


def steady(epochs: list[list[float]]) -> float:
    """Median epoch time over every run, the first (warm-up) epoch of each left out."""
    return statistics.median(t for run in epochs for t in run[1:])


def spread(epochs: list[list[float]]) -> str:
    """Fastest and slowest steady epoch: the machine's own epoch-to-epoch noise."""
    steady_epochs = [t for run in epochs for t in run[1:]]
    return f"{min(steady_epochs):.2f}-{max(steady_epochs):.2f}"


def calibrate(target_s: float) -> int:
    """Steps per epoch that make one bare epoch take about ``target_s``."""
    probe = bare_epochs(base_config(20, 2))[1]
    fixed = bare_epochs(base_config(1, 2))[1]  # evaluation and checkpoint: the per-epoch floor
    per_step = max((probe - fixed) / 19, 1e-3)
    return max(1, round((target_s - fixed) / per_step))


def main() -> None:
    global DATA
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 s epochs, fewer repeats")
    p.add_argument("--epoch-seconds", type=float, default=12.0)
    p.add_argument("--epochs", type=int, default=5, help="per run; the first is left out")
    p.add_argument("--rounds", type=int, default=2, help="alternations of bare and Tune runs")
    args = p.parse_args()
    import ray

    from mri.data.cache import ensure_synthetic_data
    from study.studies import get

    target = 2.0 if args.quick else args.epoch_seconds
    epochs = 3 if args.quick else args.epochs
    torch.set_num_threads(1)
    study = get("norm_sweep")
    if args.quick:
        study = study.smoke()  # tiny data
    t0 = time.perf_counter()
    DATA = study.build_data(ensure_synthetic_data(study.data_preset))
    print(f"norm_sweep data ({study.data_preset} preset) bundle built in "
          f"{time.perf_counter() - t0:.1f} s; {len(DATA.tests)} test sets evaluated per epoch")
    steps = calibrate(target)
    config = base_config(steps, epochs)
    print(f"{steps} steps per epoch (batch 32) for about {target:.0f} s per epoch; "
          f"{epochs} epochs, the first left out")

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    storage = tempfile.mkdtemp(prefix="bench_tune_")
    # this VM's epoch times drift by 10-30 % over minutes, so bare and Tune runs alternate and
    # every round's epochs are pooled; bare loops run in forked processes like Tune's workers
    solo_bare, pair_bare, solo_tune, pair_tune = [], [], [], []
    for _ in range(1 if args.quick else args.rounds):
        solo_bare += bare_parallel(config, 1)
        solo_tune += tuned(config, 1, 1, False, storage)[1]
        pair_bare += bare_parallel(config, 2)
        with CpuAccount() as account:
            pair_tune += tuned(config, 2, 2, False, storage)[1]
    for label, b, t in (("one trial", solo_bare, solo_tune), ("two at once", pair_bare,
                                                             pair_tune)):
        ratio = steady(t) / steady(b) - 1
        print(f"{label:<12} per epoch (median, range): bare {steady(b):.2f} s ({spread(b)}), "
              f"Tune {steady(t):.2f} s ({spread(t)}): Tune adds {100 * ratio:+.1f} % "
              "(target within 10 %)")

    u = account.used
    print(f"CPU while two trials ran ({account.wall:.0f} s, last round): trials "
          f"{u['trials']:.1f} s, Ray's other processes {u['ray']:.1f} s, driver "
          f"{u['driver']:.1f} s: Tune's own processes took "
          f"{100 * (u['ray'] + u['driver']) / (2 * account.wall):.1f} % of the 2 cores")
    k = 4 if args.quick else 8
    short = base_config(10, 1)
    t_short = statistics.median(sum(bare_epochs(short)) for _ in range(3))
    for reuse in (False, True):
        t, _ = tuned(short, k, 1, reuse, storage)
        print(f"{k} one-epoch trials (bare {t_short:.2f} s each), reuse_actors={reuse}: "
              f"{t:.2f} s, Tune adds {(t - k * t_short) / k:.2f} s per trial")
    ray.shutdown()


if __name__ == "__main__":
    main()
