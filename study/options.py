"""The launcher's options, and every check made on them before the data is read or Ray starts.

Everything here raises :class:`LaunchError` with a message naming the option and what to
change; ``study.launch`` turns it into exit status 2. The result is one :class:`RunOptions`
value. Checks that need the data (a missing distribution, a NaN in k-space) live in
``study.bundles``, those that need Ray (an unreachable ``--address``, resources no node
has) in ``study.launch``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from study.experiment_format import PHASE_KEY, SEARCH, STUDY_JSON
from study.spec import Study
from study.storage import is_uri, storage_filesystem


class LaunchError(Exception):
    """A problem found before any training starts; the message says what to change."""


def parse_args(argv: Sequence[str] | None = None, description: str | None = None
               ) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m study.launch", description=description,
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
    p.add_argument("--max-epochs", type=int,
                   help="epochs (Tune iterations) of a confirm trial; search trials run at most "
                   "as many")
    p.add_argument("--arms", nargs="+", metavar="ARM", help="run only these arms of the study "
                   "(e.g. a rerun of two normalizations); must include the arm a study "
                   "tunes for all (mixture_sweep: pool)")
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
        budget = budget.with_max_epochs(args.max_epochs)
    if args.max_concurrent is not None:
        if args.max_concurrent < 1:
            raise LaunchError(f"--max-concurrent must be >= 1, got {args.max_concurrent}")
        budget = replace(budget, max_concurrent=args.max_concurrent)
    if args.cpus_per_trial is not None and args.cpus_per_trial <= 0:
        raise LaunchError(f"--cpus-per-trial must be > 0, got {args.cpus_per_trial:g}")
    for csv in args.annotations or []:
        if not csv.is_file():
            raise LaunchError(f"--annotations {csv}: no such file")
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


@dataclass(frozen=True)
class RunOptions:
    """One launch, resolved and checked (:func:`run_options`): the study, with its budget and
    arms as the options changed them, and how to run it. Nothing after it reads argparse."""

    study: Study
    storage: str  # a path, or an object-store URI
    name: str
    data: Path | None  # None: the embedded synthetic data
    annotations: tuple[Path, ...] | None  # None: annotations.csv in the data directory
    address: str | None  # None: a local Ray of the launcher's own
    resume: bool
    seed: int
    overrides: dict[str, Any]  # --config, checked
    cpus_per_trial: float
    gpus_per_trial: float
    early_stopping: bool
    replay: Path | None
    replayed: tuple[dict[str, Any], ...] | None  # the search-trial configurations of --replay
    smoke: bool

    @property
    def experiment_path(self) -> str:
        """``<storage>/<name>``, a local storage made absolute."""
        storage = self.storage if is_uri(self.storage) else str(Path(self.storage).resolve())
        return f"{storage.rstrip('/')}/{self.name}"


def run_options(args: argparse.Namespace) -> RunOptions:
    """The parsed arguments resolved into a :class:`RunOptions`, every check that needs neither
    the data nor Ray made (:class:`LaunchError` otherwise)."""
    study = resolve_study(args)
    overrides = parse_overrides(args.config)
    check_overrides(study, overrides)
    check_mixtures(study, overrides)
    return RunOptions(
        study=study, storage=args.storage, name=args.name or study.name, data=args.data,
        annotations=tuple(args.annotations) if args.annotations else None,
        address=args.address, resume=args.resume, seed=args.seed,
        overrides=overrides,
        cpus_per_trial=(study.cpus_per_trial if args.cpus_per_trial is None
                        else args.cpus_per_trial),
        gpus_per_trial=args.gpus_per_trial, early_stopping=not args.no_early_stopping,
        replay=args.replay,
        replayed=tuple(replay_configs(args.replay)) if args.replay else None,
        smoke=args.smoke)


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


def check_same_experiment(path: str, data_dir: Path, arms: list[str]) -> None:
    """``--resume`` must read the data the experiment started on, for the same arms."""
    from pyarrow import fs

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
