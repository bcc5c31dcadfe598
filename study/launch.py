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
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from study.experiment_format import (
    CONFIRM,
    METRICS_FILE,
    PHASE_KEY,
    SCHEDULER_STATE_FILE,
    SEARCH,
    STUDY_JSON,
    TRIALS_FILE,
)
from study.session import Busy, Interruption, experiment_lock, resume_command

EXIT_ALL_FAILED, EXIT_BAD_INPUT = 1, 2
ENDED = ("TERMINATED", "ERROR")  # Tune statuses of trials that will not run again


class LaunchError(Exception):
    """A problem found before any training starts; the message says what to change."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m study.launch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", nargs="?", help="study name (see --list)")
    p.add_argument("--list", action="store_true", help="list the studies and exit")
    p.add_argument("--data", type=Path, help="fastMRI-format data directory (default: embedded "
                   "synthetic data)")
    p.add_argument("--annotations", nargs="+", type=Path, metavar="CSV", help="fastMRI+ "
                   "label files as published (e.g. knee.csv brain.csv; default: "
                   "annotations.csv in the data directory); rows for files not in the data "
                   "directory are counted and left out")
    p.add_argument("--storage", default="results", help="where experiments are written: a local "
                   "path, or on a cluster a path every node mounts (NFS, EFS) or an object-store "
                   "URI such as s3://BUCKET/DIR (default: ./results)")
    p.add_argument("--name", help="experiment name (default: the study name)")
    p.add_argument("--num-samples", type=int, help="trials per arm (stratum) of the study")
    p.add_argument("--max-epochs", type=int, help="epochs (Tune iterations) per trial at most")
    p.add_argument("--arms", nargs="+", metavar="ARM", help="run only these arms of the study "
                   "(e.g. a rerun of two normalizations); the tuned arm stays in if the study "
                   "tunes one arm for all")
    p.add_argument("--smoke", action="store_true", help="tiny data and the smoke budget")
    p.add_argument("--address", help="join a running Ray cluster: 'auto' (the cluster this "
                   "machine is a node of) or the head's HOST:PORT; needs the cluster's auth token "
                   "(~/.ray/auth_token or RAY_AUTH_TOKEN)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted experiment")
    p.add_argument("--cpus-per-trial", type=float, help="CPUs per trial (default: the study's)")
    p.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs per trial; fractions "
                   "below 1 pack several trials onto one GPU (e.g. 0.25: four per GPU)")
    p.add_argument("--max-concurrent", type=int, help="trials running at once at most")
    p.add_argument("--seed", type=int, default=0, help="seed of the searcher and the trials")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="fix a config entry for every trial (JSON value), e.g. model=\"varnet\"")
    p.add_argument("--no-early-stopping", action="store_true", help="train every trial for the "
                   "full budget (FIFO scheduler instead of ASHA): the baseline ASHA saves against")
    p.add_argument("--replay", type=Path, metavar="EXPERIMENT", help="run exactly the trial "
                   "configurations of an earlier experiment directory (e.g. with "
                   "--no-early-stopping, to check what ASHA's early stops cost)")
    return p.parse_args(argv)


def replay_configs(experiment: Path) -> list[dict[str, Any]]:
    """Every search-trial configuration of an earlier experiment (its trials' ``params.json``),
    in trial-creation order (confirm trials retrain a pick, so they are not replayed)."""
    if not experiment.is_dir():
        raise LaunchError(f"--replay {experiment}: not an experiment directory")
    files = sorted(experiment.glob("*/params.json"), key=lambda f: f.stat().st_mtime)
    configs = [json.loads(f.read_text()) for f in files]
    configs = [c for c in configs if c.get(PHASE_KEY, SEARCH) == SEARCH]
    if not configs:
        raise LaunchError(f"--replay {experiment}: no search trials (no */params.json) in it")
    return configs


def replay_space(points: list[dict[str, Any]]) -> dict[str, Any]:
    """A search space holding every replayed value, which Tune needs for its preset points."""
    from ray import tune

    space: dict[str, Any] = {}
    for key in dict.fromkeys(k for point in points for k in point):
        values = {json.dumps(p.get(key), sort_keys=True): p.get(key) for p in points}
        space[key] = tune.choice(list(values.values()))
    return space


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise LaunchError(f"--config {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def resolve_study(args: argparse.Namespace):
    from study import studies

    if not args.study:
        raise LaunchError(f"name a study; valid studies: {', '.join(studies.available())}")
    try:
        study = studies.get(args.study)
    except KeyError as e:
        raise LaunchError(e.args[0]) from None
    if args.smoke:
        study = study.smoke()
    budget = study.budget
    if args.num_samples is not None:
        if args.num_samples < 1:
            raise LaunchError(f"--num-samples must be >= 1, got {args.num_samples}")
        budget = replace(budget, num_samples=args.num_samples)
    if args.max_epochs is not None:
        if args.max_epochs < 1:
            raise LaunchError(f"--max-epochs must be >= 1, got {args.max_epochs}")
        budget = replace(budget, max_epochs=args.max_epochs,
                         grace_period=min(budget.grace_period, args.max_epochs))
    if args.max_concurrent is not None:
        if args.max_concurrent < 1:
            raise LaunchError(f"--max-concurrent must be >= 1, got {args.max_concurrent}")
        budget = replace(budget, max_concurrent=args.max_concurrent)
    if args.cpus_per_trial is not None and args.cpus_per_trial <= 0:
        raise LaunchError(f"--cpus-per-trial must be > 0, got {args.cpus_per_trial:g}")
    for csv in args.annotations or []:
        if not csv.is_file():
            raise LaunchError(f"--annotations {csv}: no such file")
    overrides = parse_overrides(args.config)
    check_overrides(study, overrides)
    check_mixtures(study, overrides)
    return replace(study, budget=budget, strata=chosen_arms(study, args.arms))


def chosen_arms(study, arms: Sequence[str] | None) -> dict[str, Any]:
    """The study's arms restricted to ``--arms`` (all of them without it)."""
    if not arms:
        return dict(study.strata)
    unknown = [a for a in arms if a not in study.strata]
    if unknown:
        raise LaunchError(f"--arms: {', '.join(unknown)} not an arm of {study.name}; its arms: "
                          f"{', '.join(study.strata)}")
    if study.tune_on and study.tune_on not in arms:
        raise LaunchError(f"--arms must include {study.tune_on!r}: {study.name} tunes that arm "
                          "and confirms every arm with its configuration")
    return {a: study.strata[a] for a in study.strata if a in arms}


def trial_cpus(args: argparse.Namespace, study) -> float:
    """``--cpus-per-trial`` when given (0 is an error, not the default), else the study's."""
    return study.cpus_per_trial if args.cpus_per_trial is None else args.cpus_per_trial


RUN_KEYS = ("max_epochs", "seed", "cpus_per_trial", "amp")  # set by the launcher, or switches


def check_overrides(study, overrides: dict[str, Any]) -> None:
    """``--config`` may fix only keys a trial's config has, never a key that defines the arms,
    and only with a value of the kind the study's space holds (a positive number where every
    value of the space is one)."""
    arm_keys = {k for fixed in study.strata.values() for k in fixed}
    known = set(study.param_space) | set(RUN_KEYS)
    for key, value in overrides.items():
        if key.startswith("_test_"):
            continue
        if key in arm_keys:
            raise LaunchError(f"--config {key}: it defines the arms of {study.name} "
                              f"({', '.join(study.strata)}), so it cannot be fixed")
        if key not in known:
            raise LaunchError(f"--config {key}: not a config key of {study.name}; valid: "
                              f"{', '.join(sorted(known))}")
        if key in study.param_space:
            check_value(key, value, study.param_space[key])


def check_value(key: str, value: Any, space: Any) -> None:
    """``value`` fits where the space holds ``space`` (a Tune domain or a constant)."""
    examples = getattr(space, "categories", None)
    if examples is None:
        bounds = None if isinstance(space, str) else getattr(space, "lower", None)  # str.lower!
        examples = [space] if bounds is None else [bounds, space.upper]
    numeric = all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in examples)
    if numeric:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise LaunchError(f"--config {key}={value!r}: expected a number (the study "
                              f"uses {examples})")
        if all(e > 0 for e in examples) and value <= 0:
            raise LaunchError(f"--config {key}={value!r}: must be > 0")
    elif not all(isinstance(value, type(e)) for e in examples):
        raise LaunchError(f"--config {key}={value!r}: expected a value like {examples[0]!r}")


def check_mixtures(study, overrides: dict[str, Any]) -> None:
    """Every mixture the study or ``--config`` names must resolve against the training pool."""
    from search_spaces.mixtures import resolve_mixture

    configs = [{**study.param_space, **fixed, **overrides} for fixed in study.strata.values()]
    for config in configs:
        if isinstance(config.get("mixture"), str) and config["mixture"] != "weights":
            try:
                resolve_mixture(config, study.train_pool)
            except ValueError as e:
                raise LaunchError(str(e)) from None


def resolve_data(args: argparse.Namespace, study) -> Path:
    from mri.data.distributions import UnknownDistributionError, select
    from mri.data.metadata import scan_directory

    if args.data is None:
        from mri.data.cache import ensure_synthetic_data

        data_dir = ensure_synthetic_data(study.data_preset)
    else:
        data_dir = args.data
        if not data_dir.is_dir():
            raise LaunchError(f"--data {data_dir}: not a directory")
    table = scan_directory(data_dir)
    if len(table.bad):
        print(f"warning: {len(table.bad)} bad file(s) in {data_dir} are left out:")
        for row in table.bad.itertuples():
            print(f"  {row.file}: {row.reason}")
    missing = []
    for name in study.distributions:
        try:
            rows = select(table, name)
        except UnknownDistributionError:
            rows = []
        if len(rows) == 0 or not {"train", "val", "test"} <= set(rows["split"]):
            missing.append(name)
    if missing:
        raise LaunchError(
            f"--data {data_dir}: study {study.name!r} needs the distributions "
            f"{', '.join(missing)} with train/val/test volumes; present: "
            f"{', '.join(sorted(table.files['distribution'].unique())) or 'none'} "
            "(python -m mri.inspect DIR lists them)"
        )
    return Path(data_dir)


def start_ray(args: argparse.Namespace) -> None:
    """Join the cluster at ``--address`` (``auto`` or ``HOST:PORT``), or start a local Ray sized
    to this machine; print the cluster's shape."""
    import ray

    from study.cluster import alive_node_resources, describe_nodes

    if ray.is_initialized():
        return
    if not args.address:
        # address="local": a Ray of its own, even beside a cluster this host already runs
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False,
                 log_to_driver=False, object_store_memory=1 << 30)
        return
    check_reachable(args.address)
    try:
        ray.init(address=args.address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise LaunchError(
            f"--address {args.address}: cannot join the Ray cluster ({str(e).splitlines()[0]}); "
            "run the launcher on a node of the cluster (or submit it with `ray job submit`), "
            "with the cluster's RAY_AUTH_TOKEN in the environment"
        ) from None
    print(f"Ray cluster at {args.address}: {describe_nodes(alive_node_resources())}")


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


def experiment_path(args: argparse.Namespace, study) -> str:
    storage = args.storage
    if "://" not in storage:
        storage = str(Path(storage).resolve())
    return f"{storage.rstrip('/')}/{args.name or study.name}"


def build_bundle(study, data_dir: Path, annotation_csvs: Sequence[Path] | None = None):
    """The arrays every trial shares, built before Ray starts, so a data problem (a NaN in
    k-space, a bad annotation row, an empty split) stops the launch with exit status 2."""
    from mri.data.reader import DataError

    try:
        bundle = (study.build_data(data_dir, annotation_csvs=annotation_csvs) if annotation_csvs
                  else study.build_data(data_dir))
    except (DataError, ValueError) as e:
        raise LaunchError(f"--data {data_dir}: {e}") from None
    for note in getattr(bundle, "notes", []):
        print(f"note: {note}")
    return bundle


def build_tuner(args, study, bundle, path: str):
    from ray import tune
    from ray.tune.schedulers import FIFOScheduler
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    from study.progress import ProgressPrinter
    from study.schedulers import StratifiedASHA
    from study.searchers import StratifiedSearcher

    cpus = trial_cpus(args, study)
    trainable = tune.with_resources(
        tune.with_parameters(study.trainable, data=bundle),
        {"cpu": cpus, "gpu": args.gpus_per_trial},
    )
    if args.resume:
        return tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=False)
    budget = study.budget
    total = study.total_trials
    replayed = replay_configs(args.replay) if args.replay else None
    param_space = {
        **study.param_space,
        "max_epochs": budget.max_epochs,
        "seed": args.seed,
        "cpus_per_trial": cpus,
        **parse_overrides(args.config),
    }
    if replayed is not None:
        # the earlier trials' configurations with this run's budget and overrides on top
        fixed = {k: param_space[k] for k in ("max_epochs", "cpus_per_trial")}
        points = [{**c, **fixed, **parse_overrides(args.config)} for c in replayed]
        total = len(points)
        searcher = BasicVariantGenerator(points_to_evaluate=points,
                                         max_concurrent=budget.max_concurrent)
        param_space = replay_space(points)
    else:
        searcher = ConcurrencyLimiter(
            StratifiedSearcher(study.strata, seed=args.seed, search_trials=budget.num_samples,
                               confirm_seeds=budget.confirm_seeds, tune_on=study.tune_on),
            max_concurrent=budget.max_concurrent,
        )
    # ASHA within each arm: a slow-starting arm is not cut short by the others' trials
    scheduler = FIFOScheduler() if args.no_early_stopping else StratifiedASHA(
        study.strata,
        state_path=f"{path}/{SCHEDULER_STATE_FILE}",
        time_attr="epoch",  # counted by the trainable: survives a restored trial's restart
        max_t=budget.max_epochs,
        grace_period=budget.grace_period,
        reduction_factor=budget.reduction_factor,
    )
    storage, _, name = path.rpartition("/")
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=study.metric,
            mode=study.mode,
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=total,
            reuse_actors=study.reuse_actors,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            # on a cluster a node (a reclaimed spot instance) can go more than twice; a retry
            # resumes from the last epoch, and diverged trials fail at once (NaN marker)
            failure_config=tune.FailureConfig(
                max_failures=max(study.max_failures, 5) if args.address else study.max_failures
            ),
            # every checkpoint is kept while the study runs, so the experiment state on disk
            # never names one already deleted (ray-project/ray#27790); finished trials are
            # pruned to their last checkpoint when the study ends
            checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
            callbacks=[ProgressPrinter(study.metric, total)],
            verbose=0,
        ),
    )


def write_study_json(path: str, study, data_dir: Path, args: argparse.Namespace) -> None:
    """What the analysis needs to know about the study, beside Tune's own files."""
    from pyarrow import fs

    info = {
        "study": study.name,
        "description": study.description,
        "task": study.task,
        "metric": study.metric,
        "mode": study.mode,
        "max_epochs": study.budget.max_epochs,
        "num_samples_per_arm": study.budget.num_samples,
        "confirm_seeds": 0 if args.replay else study.budget.confirm_seeds,
        "grace_period": study.budget.grace_period,
        "reduction_factor": study.budget.reduction_factor,
        "arms": list(study.strata),
        "tune_on": study.tune_on,
        "distributions": list(study.distributions),
        "train_pool": list(study.train_pool),
        "data_dir": str(data_dir),
        "annotations": [str(p.resolve()) for p in args.annotations] if args.annotations else None,
        "seed": args.seed,
        "smoke": bool(args.smoke),
        "early_stopping": not args.no_early_stopping,
        "replay_of": str(args.replay) if args.replay else None,
    }
    filesystem, root = fs.FileSystem.from_uri(path) if "://" in path else (fs.LocalFileSystem(),
                                                                           path)
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
    python = os.path.relpath(sys.executable) if Path(sys.executable).is_relative_to(
        Path.cwd()) else sys.executable
    tools = Path(python).parent
    print("look at it:")
    print(f"  report:      {python} -m analysis.report {path}")
    print(f"  curves:      {tools / 'tensorboard'} --logdir {path}")
    print(f"  notebooks:   EXPERIMENT_DIR={path} {tools / 'jupyter'} lab analysis/notebooks/")


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def run(args: argparse.Namespace) -> int:
    from study import studies

    if args.list:
        for name, s in studies.available().items():
            print(f"{name:<18} {s.description}")
        return 0
    study = resolve_study(args)
    path = experiment_path(args, study)
    try:
        with experiment_lock(path):
            return run_locked(args, study, path)
    except Busy as e:
        raise LaunchError(str(e)) from None
    except OSError as e:
        if e.filename is None or not str(e.filename).startswith(str(Path(path).parent)):
            raise
        raise LaunchError(f"--storage {args.storage}: cannot write the experiment directory "
                          f"{path} ({e.strerror})") from None


def run_locked(args: argparse.Namespace, study, path: str) -> int:
    """The launch itself, with the experiment's lock held (see :mod:`study.session`)."""
    from ray import tune

    from study.cluster import local_experiment
    from study.results import prune_checkpoints, write_tables

    if args.resume and not tune.Tuner.can_restore(path):
        raise LaunchError(f"--resume: no experiment to resume at {path}")
    if not args.resume and tune.Tuner.can_restore(path):
        raise LaunchError(f"an experiment already exists at {path}: continue it with --resume "
                          "or choose another --name")
    if args.replay:
        replay_configs(args.replay)  # bad --replay fails before Ray starts
    data_dir = resolve_data(args, study)
    if args.resume:
        check_same_experiment(path, data_dir, list(study.strata))
    print(f"study {study.name}: data {data_dir}, experiment {path}")
    t0 = time.time()
    bundle = build_bundle(study, data_dir, args.annotations)
    start_ray(args)
    check_resources(trial_cpus(args, study), args.gpus_per_trial)
    tuner = build_tuner(args, study, bundle, path)
    if not args.resume:
        write_study_json(path, study, data_dir, args)
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
              f"{int(unfinished.sum())} of {study.total_trials} trials unfinished; nothing "
              f"finished is lost. Resume with:\n  {resume_command()}")
        return interruption.exit_status()
    summarize(study, trials, path)
    prune_checkpoints(path)
    print(f"wall time {time.time() - t0:.0f} s")
    finished = (trials["status"] == "TERMINATED").sum() if len(trials) else 0
    return 0 if finished else EXIT_ALL_FAILED


def check_same_experiment(path: str, data_dir: Path, arms: list[str]) -> None:
    """``--resume`` must read the data the experiment started on, for the same arms."""
    from pyarrow import fs

    from study.cluster import storage_filesystem

    filesystem, root = storage_filesystem(path)
    file = f"{root}/{STUDY_JSON}"
    if filesystem.get_file_info(file).type != fs.FileType.File:
        return
    with filesystem.open_input_stream(file) as src:
        info = json.loads(src.read().decode())
    if info.get("arms") and info["arms"] != arms:
        raise LaunchError(f"--resume: the experiment at {path} started with the arms "
                          f"{' '.join(info['arms'])}; pass the same --arms (or none for all)")
    started = info.get("data_dir")
    if started and Path(started).resolve() != Path(data_dir).resolve():
        raise LaunchError(f"--resume: the experiment at {path} started on the data in "
                          f"{started}, not {data_dir}; pass --data {started}")


def quiet_libraries() -> None:
    # Our ProgressPrinter reports progress; these would repeat it at length.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "1")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_libraries()
    try:
        return run(args)
    except LaunchError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
