"""What Ray Tune adds over the same training loop run bare.

The loop is ``norm_sweep``'s trainable (``train_diagnosis``: the tiny pre-activation ResNet on
the single-coil ``diagnosis`` data, every test set evaluated each epoch, a checkpoint each
epoch), with ``steps_per_epoch`` chosen so one epoch takes about ``--epoch-seconds`` bare.

1. Per epoch: the loop run bare (a plain function call in a fresh process whose per-epoch
   ``report`` only saves the checkpoint with ``torch.save``, as a plain training script would)
   against the same config as a Tune trial; one trial alone, and two at once on two cores
   (two bare processes against two concurrent trials), one thread per trial in both.
   Per-epoch time is the time between consecutive reports (Tune's ``time_this_iter_s``); the
   first epoch is left out (warm-up). Bare and Tune runs alternate for ``--rounds`` rounds and
   their epochs are pooled, because this VM's speed drifts over minutes.
   Target: Tune within 10 % of bare for epochs of 10 s or more.
2. Side by side: one bare loop and one Tune trial *at the same moment*, each on a core of its
   own (``sched_setaffinity``), with the driver, raylet, GCS and the trial's worker all pinned
   to the trial's core, so everything Tune costs lands on the trial; then the cores swap, and
   the paired per-run ratios give a 95 % confidence interval. Meant to cancel the VM's drift;
   measured, the two vCPUs drift independently (BENCHMARKS.md), so the CI is what to read.
3. Per trial: ``K`` one-epoch trials in sequence with and without actor reuse; the time above
   ``K`` bare runs, divided by ``K``, is what Tune adds to start and finish a trial.

    python bench/bench_tune_overhead.py [--quick] [--epoch-seconds 12] [--rounds 2]
                                        [--parts side rounds startup]

``--quick`` (what the tests run; its figures mean little) keeps every part but makes each as
small as it can be: the tiny data, 1 s epochs and two epochs per run (one after the warm-up),
one round, one side-by-side run (no core swap, so no confidence interval), and two one-epoch
trials each way for part 3, against one bare run. Its bare loops are forked from a fork server
that has imported torch and the trainable once, instead of each spawned and importing them
again (see ``BareLoops``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
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
import trainables.loop as loop  # noqa: E402

DATA = None  # the study's data bundle, built once; each bare process gets a copy
START_METHOD = "spawn"  # how bare loops start; ``--quick``: "forkserver" (see BareLoops)


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

    def save_only(metrics: dict, state: dict, samples=None) -> None:
        torch.save(state, Path(folder) / "state.pt")
        stamps.append(time.perf_counter())

    original = loop.report
    loop.report = save_only
    try:
        diagnosis.train_diagnosis(config, DATA)
    finally:
        loop.report = original
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def _bare_worker(config: dict, data, queue, ready, go, core: int | None) -> None:
    """A fresh process's bare loop: it reports ready once imported, waits for ``go``, runs."""
    global DATA
    DATA = data
    torch.set_num_threads(1)
    if core is not None:
        os.sched_setaffinity(0, {core})
    ready.put(os.getpid())
    go.wait()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    epochs = bare_epochs(config)
    queue.put((epochs, time.process_time() - cpu0, time.perf_counter() - wall0))


class BareLoops:
    """``n`` bare loops, each a freshly *spawned* process holding its own copy of the data, as
    a plain training script would. Not forked from this process: measured side by side, a
    forked copy ran the same epochs 40-60 % slower than a spawned one (9.0-9.6 s against
    5.1-5.8 s), which made an earlier version of this benchmark flatter Tune.

    ``--quick`` (``START_METHOD`` "forkserver") forks them from a fork server instead: a fresh
    process of its own (not this one, which runs Ray) that has imported the trainable, torch
    and ``torch._dynamo`` and run nothing, so each loop starts without importing them again; it
    still gets its own copy of the data."""

    def __init__(self, config: dict, n: int, cores: list[int | None] | None = None) -> None:
        ctx = mp.get_context(START_METHOD)
        self.queue, ready, self.go = ctx.Queue(), ctx.Queue(), ctx.Event()
        cores = cores or [None] * n
        self.procs = [ctx.Process(target=_bare_worker,
                                  args=(config, DATA, self.queue, ready, self.go, core))
                      for core in cores]
        for proc in self.procs:
            proc.start()
        self.pids = [ready.get() for _ in self.procs]  # every loop imported and holding data

    def run(self) -> list[tuple[list[float], float, float]]:
        """Start every loop; per loop, its epoch times, CPU seconds and wall seconds."""
        self.go.set()
        out = [self.queue.get() for _ in self.procs]
        for proc in self.procs:
            proc.join()
        return out


def bare_parallel(config: dict, n: int) -> list[list[float]]:
    """Epoch times of ``n`` bare loops run at once."""
    return [epochs for epochs, _, _ in BareLoops(config, n).run()]


@dataclass
class SideBySide:
    """One side-by-side run: per-epoch seconds of each loop, the cores Ray's processes were
    allowed, and CPU seconds (bare loop; the trial, Ray's other processes and the driver)."""

    tune_epochs: list[float]
    bare_epochs: list[float]
    ray_cores: set[int]
    bare_cpu: float
    bare_wall: float
    tune_cpu: dict[str, float]
    tune_wall: float


def side_by_side(config: dict, tune_core: int, bare_core: int, storage: str) -> SideBySide:
    """One Tune trial and one bare loop at the same time, each on its own core; every Ray
    process (driver included) pinned to ``tune_core``."""
    import ray

    bare = BareLoops(config, 1, cores=[bare_core])  # ready before Ray starts, and not pinned
    every_core = os.sched_getaffinity(0)
    _pin_driver({tune_core})  # Ray's processes and threads inherit the driver's affinity
    try:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
        bare.go.set()
        ray_cores: set[int] = set()
        bare_pid = bare.pids[0]
        with CpuAccount() as account:
            _, tune_epochs = tuned(config, 1, 1, False, storage,
                                   after_start=lambda: ray_cores.update(_ray_cores(bare_pid)))
        [(b_epochs, b_cpu, b_wall)] = bare.run()
    finally:
        ray.shutdown()
        _pin_driver(every_core)
    return SideBySide(tune_epochs[0], b_epochs, ray_cores, b_cpu, b_wall, account.used,
                      account.wall)


def _driver_threads() -> list[int]:
    return [int(tid) for tid in os.listdir("/proc/self/task")]


def _pin_driver(cores: set[int]) -> None:
    """Pin every thread of this process (``sched_setaffinity`` acts on one thread)."""
    for tid in _driver_threads():
        try:
            os.sched_setaffinity(tid, cores)
        except OSError:  # a thread that has just exited
            pass


def _is_ray_process(name: str, cmdline: str) -> bool:
    """Ray's own processes: raylet, GCS, ``ray::`` workers and agents, Ray's Python daemons;
    not multiprocessing's (a bare loop, the fork server, the resource tracker), whose command
    line can hold Ray's paths too (``sys.path``, which Ray's ``thirdparty_files`` joins)."""
    if "from multiprocessing" in cmdline:
        return False
    return (name.startswith("ray::") or "raylet" in name or "gcs_server" in name
            or "ray/" in cmdline)


def _ray_cores(exclude: int) -> set[int]:
    """The cores this driver and every process it started (raylet, GCS, workers; not
    the bare loop ``exclude``) may run on; called once the trial is running."""
    import psutil

    me = psutil.Process()
    seen = set()
    for tid in _driver_threads():
        try:
            seen |= os.sched_getaffinity(tid)
        except OSError:
            pass
    for proc in me.children(recursive=True):
        try:
            # not the bare loop, nor multiprocessing's resource tracker
            if proc.pid == exclude or not _is_ray_process(proc.name(), " ".join(proc.cmdline())):
                continue
            seen |= set(proc.cpu_affinity())
        except psutil.Error:
            pass
    return seen


class CpuAccount:
    """CPU seconds used while a block runs, split into Tune trial workers, Ray's other
    processes (raylet, GCS, idle workers) and this driver process. Processes are sampled every
    0.5 s, so those that start or exit during the block are counted too. Only this process and
    its descendants count (every process of the Ray this driver started is one): another Ray
    on the same machine is none of this run's cost."""

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
            self._update()
            time.sleep(0.5)

    def _update(self) -> None:
        # a worker that ran a trial goes back to ``ray::IDLE`` when it ends: once a trial
        # worker, its CPU time stays the trials'
        for pid, (kind, cpu) in self._snapshot().items():
            if self.last.get(pid, ("",))[0] == "trials":
                kind = "trials"
            self.last[pid] = (kind, cpu)

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        self._halt.set()
        self._thread.join()
        self._update()
        self.used = {"trials": 0.0, "ray": 0.0, "driver": 0.0}
        for pid, (kind, cpu) in self.last.items():
            self.used[kind] += cpu - self.base.get(pid, 0.0)

    @staticmethod
    def _snapshot() -> dict[int, tuple[str, float]]:
        import psutil

        me = psutil.Process()
        out = {}
        for proc in [me, *me.children(recursive=True)]:
            try:
                name = proc.name()
                cmd = " ".join(proc.cmdline())
                times = proc.cpu_times()
            except psutil.Error:  # exited since the listing
                continue
            if proc.pid == me.pid:
                kind = "driver"
            elif "ImplicitFunc" in name:
                kind = "trials"
            elif _is_ray_process(name, cmd):
                kind = "ray"
            else:
                continue
            out[proc.pid] = (kind, times.user + times.system)
        return out


def tuned(config: dict, samples: int, concurrent: int, reuse: bool, storage: str,
          after_start=None):
    """Wall time of the Tune run and every trial's ``time_this_iter_s`` list; ``after_start``
    is called once, after the first result arrives."""
    from ray import tune

    class AfterStart(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            nonlocal after_start
            if after_start is not None:
                after_start()
                after_start = None

    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(diagnosis.train_diagnosis, data=DATA),
                            {"cpu": 1}),
        param_space=config,
        tune_config=tune.TuneConfig(num_samples=samples, reuse_actors=reuse,
                                    max_concurrent_trials=concurrent),
        run_config=tune.RunConfig(storage_path=storage, verbose=0, callbacks=[AfterStart()],
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


def paired_ci(values: list[float]) -> str:
    """Student-t 95 % confidence interval of the mean, as text."""
    from scipy import stats

    if len(values) < 2:
        return "n/a"
    low, high = stats.t.interval(0.95, len(values) - 1, loc=statistics.mean(values),
                                 scale=stats.sem(values))
    return f"[{low:+.1f}, {high:+.1f}] %"


def measure_side_by_side(config: dict, storage: str, rounds: int, swap: bool = True) -> None:
    """Part 2 of the docstring: Tune and bare at once, each on its own core, cores swapped
    (unless ``swap`` is false: ``--quick``)."""
    cores = sorted(os.sched_getaffinity(0))[:2]
    if len(cores) < 2:
        print("side by side: needs two cores, skipped")
        return
    side_tune, side_bare = [], []
    for _ in range(rounds):
        for tune_core, bare_core in (cores, cores[::-1])[:2 if swap else 1]:
            run = side_by_side(config, tune_core, bare_core, storage)
            side_tune.append(run.tune_epochs)
            side_bare.append(run.bare_epochs)
            print(f"side by side, Tune + every Ray process on core(s) {sorted(run.ray_cores)}, "
                  f"bare on core {bare_core}: bare {steady([run.bare_epochs]):.2f} s "
                  f"({spread([run.bare_epochs])}), Tune {steady([run.tune_epochs]):.2f} s "
                  f"({spread([run.tune_epochs])}) per epoch")
            used = run.tune_cpu
            print(f"  CPU: bare loop {run.bare_cpu:.1f} s in {run.bare_wall:.1f} s; on the Tune "
                  f"core, trial {used['trials']:.1f} s, Ray's other processes "
                  f"{used['ray']:.1f} s, driver {used['driver']:.1f} s in {run.tune_wall:.1f} s")
    ratios = [100 * (steady([t]) / steady([b]) - 1) for t, b in zip(side_tune, side_bare,
                                                                      strict=True)]
    print(f"side by side, all runs: bare {steady(side_bare):.2f} s, Tune "
          f"{steady(side_tune):.2f} s per epoch: Tune costs {statistics.mean(ratios):+.1f} % "
          f"(mean of {len(ratios)} paired runs, 95 % CI {paired_ci(ratios)}; target within 10 %)")


def measure_alternating(config: dict, storage: str, rounds: int) -> None:
    """Part 1: bare and Tune runs one after the other, alone and two at once; Ray running."""
    # this VM's epoch times drift by 10-30 % over minutes, so bare and Tune runs alternate and
    # every round's epochs are pooled; bare loops run in fresh processes like Tune's workers
    solo_bare, pair_bare, solo_tune, pair_tune = [], [], [], []
    for _ in range(rounds):
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


def measure_startup(storage: str, k: int, bare_runs: int = 3) -> None:
    """Part 3: what Tune adds to start and finish a trial, with and without actor reuse."""
    short = base_config(10, 1)
    t_short = statistics.median(sum(bare_epochs(short)) for _ in range(bare_runs))
    for reuse in (False, True):
        t, _ = tuned(short, k, 1, reuse, storage)
        print(f"{k} one-epoch trials (bare {t_short:.2f} s each), reuse_actors={reuse}: "
              f"{t:.2f} s, Tune adds {(t - k * t_short) / k:.2f} s per trial")


def main() -> None:
    global DATA, START_METHOD
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny data, 1 s epochs, 2 per run, "
                   "fewer repeats (see the docstring)")
    p.add_argument("--epoch-seconds", type=float, default=12.0)
    p.add_argument("--epochs", type=int, default=5, help="per run; the first is left out")
    p.add_argument("--rounds", type=int, default=2,
                   help="alternations of bare and Tune runs; side by side: core swaps")
    p.add_argument("--parts", nargs="+", choices=("side", "rounds", "startup"),
                   default=["side", "rounds", "startup"], help="which measurements to run")
    args = p.parse_args()
    import ray

    from mri.synth.cache import ensure_synthetic_data
    from study.studies import get

    target = 1.0 if args.quick else args.epoch_seconds
    epochs = 2 if args.quick else args.epochs
    if args.quick:
        START_METHOD = "forkserver"
        # the server imports the trainable (and torch) and what torch.optim imports on first use
        # once, before it forks any loop. Not "__main__": Python 3.11's fork server never
        # imports it (it looks for a "main_path" key its preparation data does not have), and
        # each child runs this script again, which is cheap once these are imported.
        mp.get_context(START_METHOD).set_forkserver_preload(
            ["torch._dynamo", diagnosis.__name__, loop.__name__])
        # started now, its imports on the other core while this process builds the data and
        # calibrates (one thread), not later on the way of a measurement
        from multiprocessing import forkserver

        forkserver.ensure_running()
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

    storage = tempfile.mkdtemp(prefix="bench_tune_")
    rounds = 1 if args.quick else args.rounds
    if "side" in args.parts:
        measure_side_by_side(config, storage, rounds, swap=not args.quick)
    if {"rounds", "startup"} & set(args.parts):
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        if "rounds" in args.parts:
            measure_alternating(config, storage, rounds)
        if "startup" in args.parts:
            measure_startup(storage, k=2 if args.quick else 8, bare_runs=1 if args.quick else 3)
        ray.shutdown()


if __name__ == "__main__":
    main()
