"""Run a named study: ``python -m study.launch NAME [options]`` (``--list`` shows the studies).

Without ``--data`` the study runs on the embedded synthetic data (generated on first use and
cached); without ``--address`` it starts a local Ray sized to this machine. When the study ends
the experiment directory holds ``trials.parquet`` and ``metrics.parquet`` and the best
configuration is printed. Exit status: 0 when at least one trial finished, 1 when every trial
failed, 2 when the study could not start (bad option, data or resources).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from study.bundles import build_bundle, resolve_data
from study.experiment_format import CONFIRM, METRICS_FILE, STUDY_JSON, TRIALS_FILE
from study.options import (
    LaunchError,
    RunOptions,
    check_same_experiment,
    parse_args,
    run_options,
)
from study.session import Busy, Interruption, experiment_lock, python_command, resume_command
from study.storage import local_experiment, storage_filesystem
from study.tuner import build_tuner, optuna_journal

EXIT_ALL_FAILED, EXIT_BAD_INPUT = 1, 2
ENDED = ("TERMINATED", "ERROR")  # Tune statuses of trials that will not run again


def start_ray(address: str | None) -> None:
    """Join the cluster at ``--address`` (``auto`` or ``HOST:PORT``), or start a local Ray sized
    to this machine; print the cluster's shape."""
    import ray

    from study.cluster import alive_node_resources, describe_nodes

    if ray.is_initialized():
        return
    if not address:
        # address="local": a Ray of its own, even beside a cluster this host already runs
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False,
                 log_to_driver=False, object_store_memory=1 << 30)
        return
    check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise LaunchError(
            f"--address {address}: cannot join the Ray cluster ({str(e).splitlines()[0]}); "
            "run the launcher on a node of the cluster (or submit it with `ray job submit`), "
            "with the cluster's RAY_AUTH_TOKEN in the environment"
        ) from None
    print(f"Ray cluster at {address}: {describe_nodes(alive_node_resources())}")


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """``--address HOST:PORT`` must accept a connection within ``timeout`` seconds (Ray itself
    would retry for about 14 minutes before giving up)."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise LaunchError(f"--address {address}: nothing answers there within {timeout:g} s "
                          f"({e.strerror or e}); give the head node's GCS address (port 6379 "
                          "in cluster.yaml) or 'auto' on a node of the cluster") from None


def check_resources(cpus: float, gpus: float) -> None:
    """Fail at launch when no node could ever hold one trial (instead of waiting forever).

    A node counts when it is alive now, or when it is of a node type the cluster's autoscaler
    may still launch (an autoscaling GPU node type of a ``ray up`` cluster, say, with no node
    up yet)."""
    from study.cluster import alive_node_resources, describe_nodes, fits, launchable_node_resources

    if cpus <= 0 or gpus < 0:
        raise LaunchError(f"--cpus-per-trial must be > 0 and --gpus-per-trial >= 0, got "
                          f"{cpus} and {gpus}")
    if gpus > 1 and not float(gpus).is_integer():
        raise LaunchError(f"--gpus-per-trial {gpus:g}: above 1 it must be a whole number of GPUs "
                          "(fractions below 1 pack several trials onto one GPU)")
    alive, launchable = alive_node_resources(), launchable_node_resources()
    if any(fits(n, cpus, gpus) for n in alive + launchable):
        return
    autoscaled = f"; its autoscaler may add {describe_nodes(launchable)}" if launchable else ""
    raise LaunchError(
        f"no node of this Ray cluster has {cpus:g} CPU and {gpus:g} GPU for one trial: it has "
        f"{describe_nodes(alive)}{autoscaled} (lower --cpus-per-trial / --gpus-per-trial or add "
        "such nodes)"
    )


def write_study_json(opts: RunOptions, data_dir: Path) -> None:
    """What the analysis needs to know about the study, beside Tune's own files."""
    study, path = opts.study, opts.experiment_path
    info = {
        "study": study.name,
        "description": study.description,
        "task": study.task,
        "metric": study.metric,
        "mode": study.mode,
        "max_epochs": study.budget.max_epochs,
        "search_epochs": study.budget.search_horizon,
        "num_samples_per_arm": study.budget.num_samples,
        "confirm_seeds": 0 if opts.replay else study.budget.confirm_seeds,
        "grace_period": study.budget.grace_period,
        "reduction_factor": study.budget.reduction_factor,
        "arms": list(study.strata),
        "tune_on": study.tune_on,
        "distributions": list(study.distributions),
        "train_pool": list(study.train_pool),
        "data_dir": str(data_dir),
        "annotations": [str(p.resolve()) for p in opts.annotations] if opts.annotations else None,
        "seed": opts.seed,
        "smoke": opts.smoke,
        "early_stopping": opts.early_stopping,
        "replay_of": str(opts.replay) if opts.replay else None,
    }
    filesystem, root = storage_filesystem(path)
    filesystem.create_dir(root, recursive=True)
    with filesystem.open_output_stream(f"{root}/{STUDY_JSON}") as f:
        f.write(json.dumps(info, indent=2).encode())


def summarize(study, trials, path: str) -> None:
    """Print what ran and, per arm, its confirmed configuration and the confirm seeds'
    objective (the study's answer comes from the report, not from these numbers)."""
    counts = trials["status"].value_counts().to_dict() if len(trials) else {}
    early = int(trials.get("stopped_early", []).sum()) if len(trials) else 0
    print(f"\n== {study.name}: {len(trials)} trials {counts}, {early} stopped early by ASHA")
    print(f"results: {path}/{TRIALS_FILE}, {path}/{METRICS_FILE}")
    objective = f"best/{study.metric}"
    if objective not in trials or trials[objective].notna().sum() == 0:
        print("no trial reported the objective")
        return
    tuned = [k for k, v in study.param_space.items() if hasattr(v, "sample")]
    confirm = trials[trials["phase"] == CONFIRM]
    print(f"per arm: the confirmed configuration; best {study.metric} of each confirm seed")
    for arm in study.strata:
        rows = confirm[confirm["arm"] == arm]
        if rows.empty:
            print(f"  {arm:<24} not confirmed (no search trial of this arm finished)")
            continue
        values = rows[objective].dropna()
        config = ", ".join(f"{k}={_short(rows.iloc[0].get(f'config/{k}'))}" for k in tuned)
        shown = " ".join(f"{v:.4f}" for v in values) or "n/a"
        print(f"  {arm:<24} {shown}  ({config})")
    print_where_to_look(path)


def print_where_to_look(path: str) -> None:
    """The commands that open the experiment, all pointing at its directory."""
    python = python_command()
    tools = Path(python).parent
    print("look at it:")
    print(f"  report:      {python} -m analysis.report {path}")
    print(f"  curves:      {tools / 'tensorboard'} --logdir {path}")
    print(f"  notebooks:   EXPERIMENT_DIR={path} {tools / 'jupyter'} lab analysis/notebooks/")
    journal = optuna_journal(path)
    if journal is not None:
        print(f"  search:      {tools / 'optuna-dashboard'} {journal}")


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def run(args: argparse.Namespace) -> int:
    from study import studies

    if args.list:
        for name, s in studies.available().items():
            print(f"{name:<18} {s.description}")
        return 0
    opts = run_options(args)
    path = opts.experiment_path
    try:
        with experiment_lock(path):
            return run_locked(opts)
    except Busy as e:
        raise LaunchError(str(e)) from None
    except OSError as e:
        if e.filename is None or not str(e.filename).startswith(str(Path(path).parent)):
            raise
        raise LaunchError(f"--storage {opts.storage}: cannot write the experiment directory "
                          f"{path} ({e.strerror})") from None


def run_locked(opts: RunOptions) -> int:
    """The launch itself, with the experiment's lock held (see :mod:`study.session`)."""
    from ray import tune

    from study.results import prune_checkpoints, write_tables

    study, path = opts.study, opts.experiment_path
    if opts.resume and not tune.Tuner.can_restore(path):
        raise LaunchError(f"--resume: no experiment to resume at {path}")
    if not opts.resume and tune.Tuner.can_restore(path):
        raise LaunchError(f"an experiment already exists at {path}: continue it with --resume "
                          "or choose another --name")
    data_dir = resolve_data(opts)
    if opts.resume:
        check_same_experiment(path, data_dir, list(study.strata))
    print(f"study {study.name}: data {data_dir}, experiment {path}")
    t0 = time.time()
    bundle = build_bundle(study, data_dir, opts.annotations)
    start_ray(opts.address)
    check_resources(opts.cpus_per_trial, opts.gpus_per_trial)
    tuner = build_tuner(opts, bundle)
    if not opts.resume:
        write_study_json(opts, data_dir)
    with Interruption() as interruption:
        try:
            tuner.fit()
        except KeyboardInterrupt:  # before Tune could take over the signal
            pass
    with local_experiment(path) as local:  # a temporary copy when storage is a URI
        trials, _ = write_tables(local, study.task, metric=study.metric, mode=study.mode,
                                 max_epochs=study.budget.max_epochs, pool=study.train_pool)
    unfinished = ~trials["status"].isin(ENDED) if len(trials) else pd.Series(dtype=bool)
    if interruption.signal is not None or unfinished.any():
        print(f"\n== {study.name} INTERRUPTED after {time.time() - t0:.0f} s: "
              f"{int((~unfinished).sum())} of {study.total_trials} trials ended; nothing "
              f"finished is lost. Resume with:\n  {resume_command()}")
        return interruption.exit_status()
    summarize(study, trials, path)
    prune_checkpoints(path)
    print(f"wall time {time.time() - t0:.0f} s")
    finished = (trials["status"] == "TERMINATED").sum() if len(trials) else 0
    return 0 if finished else EXIT_ALL_FAILED


def quiet_libraries() -> None:
    # Our ProgressPrinter reports progress; these would repeat it at length.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Tune's own console output would repeat it too, and point TensorBoard at a temporary
    # driver directory that is gone after the run (the launcher names the experiment's own)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv, description=__doc__)
    quiet_libraries()
    try:
        return run(args)
    except LaunchError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
