"""Pilot: can a normalization arm of the diagnosis classifier learn norm_sweep's task at all?

Direct training runs, no Ray: :func:`trainables.diagnosis.train_diagnosis` on norm_sweep's
training distribution with norm_sweep's fixed settings (model, pooling, augmentation, warm-up,
batch size, steps per epoch), one run per learning rate and seed. Prints each run's validation
AUROC per epoch, then one row per run: the AUROC at the end of a search trial (norm_sweep's
``search_epochs``), the best, and whether it converged by the report's rule
(:func:`analysis.validity.last_improvement` below the diagnosis task's tolerance).

    python bench/pilot_diagnosis.py --norm none --lrs 2e-3 3e-3 --seeds 0 1 [--epochs 16]
    python bench/pilot_diagnosis.py --quick      # tiny data, 4 epochs of 5 steps

About 40 s per run on this machine at the default budget (16 epochs of 100 steps).
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from ray.tune.search.sample import Categorical, Domain

from analysis.validity import last_improvement
from mri.synth.cache import ensure_synthetic_data
from search_spaces import norm_arm_config
from search_spaces.normalization import NORM_ARMS
from study.bundles import build_diagnosis_data
from study.experiment_format import TASKS
from study.studies.norm_sweep import STUDY, TRAIN
from trainables.diagnosis import OBJECTIVE, train_diagnosis


def fixed_settings() -> dict[str, Any]:
    """norm_sweep's configuration entries that its search does not vary (plain values, and
    choices of one value)."""
    fixed = {}
    for key, value in STUDY.param_space.items():
        if not isinstance(value, Domain):
            fixed[key] = value
        elif isinstance(value, Categorical) and len(value.categories) == 1:
            fixed[key] = value.categories[0]
    return fixed


def pilot_run(data, config: dict[str, Any]) -> list[float]:
    """Validation AUROC after each epoch of one direct training run."""
    curve: list[float] = []
    with warnings.catch_warnings():  # Tune's reporting is a no-op outside a Tune session
        warnings.simplefilter("ignore", UserWarning)
        train_diagnosis(config, data, on_epoch=lambda m: curve.append(float(m[OBJECTIVE])))
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--norm", default="none", choices=list(NORM_ARMS))
    parser.add_argument("--lrs", type=float, nargs="+", default=[3e-3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--weight-decay", type=float, default=1e-3)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=STUDY.budget.max_epochs)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    preset = "tiny" if args.quick else STUDY.data_preset
    data = build_diagnosis_data(ensure_synthetic_data(preset), TRAIN, (), (), ())
    base = {**fixed_settings(), **norm_arm_config(args.norm), "groups": args.groups,
            "weight_decay": args.weight_decay, "max_epochs": 4 if args.quick else args.epochs}
    if args.quick:
        base.update(STUDY.smoke_overrides)
    search_epochs = min(STUDY.budget.search_epochs, base["max_epochs"])
    rows = []
    for lr in args.lrs:
        for seed in args.seeds:
            curve = pilot_run(data, {**base, "lr": lr, "seed": seed})
            print(f"{args.norm} lr {lr:.2g} seed {seed}: " + " ".join(f"{v:.3f}" for v in curve),
                  flush=True)
            at_search = curve[search_epochs - 1]
            rows.append((lr, seed, at_search, max(curve), last_improvement(curve)))
    tolerance = TASKS["diagnosis"].converged_tolerance
    print(f"\n| norm | lr | seed | epoch {search_epochs} | best | last-3 gain | "
          f"converged (gain < {tolerance}) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for lr, seed, at_search, best, gain in rows:
        converged = "yes" if gain < tolerance else "no"  # NaN (too short to tell): no
        print(f"| {args.norm} | {lr:.2g} | {seed} | {at_search:.3f} | {best:.3f} | {gain:+.3f} "
              f"| {converged} |")


if __name__ == "__main__":
    main()
