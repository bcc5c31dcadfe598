"""Search efficiency: the epochs ASHA spends on a study against a full-budget search over the
same configurations, and whether ASHA keeps the same best configuration.

Runs the study twice through the launcher, in the same storage:

1. ``asha``: the study as ``make study`` runs it (one ASHA per arm, ``study.schedulers``, at
   the study's default budget);
2. ``full``: ``--no-early-stopping --replay <asha>``, i.e. exactly the configurations ASHA's run
   tried (same seeds), each trained for the full ``max_epochs``.

Because a replayed trial repeats its ASHA twin's first epochs, the comparison is of budget and
selection only. Prints the epochs each spent and their ratio (the fraction of the full budget
ASHA needs), wall times, and per arm and overall the configuration each search picks by the
study's rule (peak of the objective over epochs), the full-budget objective of ASHA's pick
against the full-budget best, and the noise of the objective: the standard deviation of the
full-budget best trial's objective over its last three epochs.

Finally every ASHA setting (one ASHA or one per arm, grace period 1-5, reduction factor 2
or 3) is replayed offline on the full-budget curves (``analysis.search_efficiency``): the
share of the budget each would spend and how far its picks fall short, without training again.

    python bench/bench_search_efficiency.py [--study norm_sweep] [--quick] [--asha EXPERIMENT]

``--quick`` runs the smoke variant (tiny data, 2 trials per arm) of two of the study's arms
(``QUICK_ARMS``; ``--arms`` picks others, for any study); ``--asha`` reuses a finished ASHA
experiment (e.g. a ``make study`` run under ``results/``) instead of running step 1.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.search_efficiency import sweep_settings
from study.experiment_format import ARM_KEY, OBJECTIVE_SET, PHASE_KEY, SEARCH

ROOT = Path(__file__).resolve().parents[1]
# what identifies a configuration; the budget keys differ between the two runs by design
BUDGET_KEYS = {"config/max_epochs", "config/cpus_per_trial"}
# the arms ``--quick`` runs, per study (all of a study's arms when it is not listed)
QUICK_ARMS = {"norm_sweep": ["batch", "group"]}


def launch(study: str, storage: Path, name: str, extra: list[str]) -> float:
    """Run the launcher; return its own ``wall time`` (tuner set-up to tables written)."""
    cmd = [sys.executable, "-m", "study.launch", study, "--storage", str(storage),
           "--name", name, *extra]
    print("$", " ".join(cmd[1:]), flush=True)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"launcher failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    match = re.search(r"wall time (\d+(?:\.\d+)?) s", out.stdout)
    return float(match.group(1)) if match else time.perf_counter() - t0


def load(experiment: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    info = json.loads((experiment / "study.json").read_text())
    trials = pd.read_parquet(experiment / "trials.parquet")
    metrics = pd.read_parquet(experiment / "metrics.parquet")
    trials = trials[(trials["status"] == "TERMINATED")
                    & (trials.get("phase", SEARCH) == SEARCH)].copy()  # search trials only
    keys = sorted(c for c in trials if c.startswith("config/") and c not in BUDGET_KEYS)
    trials["key"] = trials[keys].astype(str).agg("|".join, axis=1)
    return trials, metrics, info


def arm_column(trials: pd.DataFrame) -> str:
    return next(c for c in ("arm", "config/norm_arm", "config/mixture") if c in trials)


def objective_noise(metrics: pd.DataFrame, trial_id: str, metric: str) -> float:
    """Standard deviation of a trial's objective over its last three epochs."""
    rows = metrics[(metrics.trial_id == trial_id) & (metrics.eval_set == OBJECTIVE_SET)
                   & (metrics.metric == metric)]
    last = rows.sort_values("iteration")["value"].to_numpy()[-3:]
    return float(np.std(last, ddof=1)) if len(last) > 1 else float("nan")


def compare(asha: pd.DataFrame, full: pd.DataFrame, full_metrics: pd.DataFrame, info: dict,
            label: str) -> dict:
    """ASHA's pick against the full-budget best within one group of trials."""
    objective = f"best/{info['metric']}"
    pick = max if info["mode"] == "max" else min
    a_best = asha.loc[pick(asha.index, key=lambda i: asha.at[i, objective])]
    f_best = full.loc[pick(full.index, key=lambda i: full.at[i, objective])]
    f_of_pick = full.loc[full["key"] == a_best["key"], objective]
    noise = objective_noise(full_metrics, f_best["trial_id"], info["metric"])
    row = {
        "group": label,
        "trials": len(full),
        "same_pick": a_best["key"] == f_best["key"],
        "asha_pick_full": float(f_of_pick.iloc[0]) if len(f_of_pick) else float("nan"),
        "full_best": float(f_best[objective]),
        "noise_sd": noise,
    }
    row["shortfall"] = abs(row["full_best"] - row["asha_pick_full"])
    row["within_noise"] = bool(row["same_pick"] or row["shortfall"] <= 2 * noise)
    return row


def objective_curves(experiment: Path, metric: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Each finished trial's objective per epoch (rows in creation order) and its arm."""
    from study.results import read_trial_results

    rows, arms = {}, {}
    dirs = sorted(experiment.glob("*/params.json"), key=lambda f: f.stat().st_mtime)
    for params in dirs:
        config = json.loads(params.read_text())
        results = read_trial_results(params.parent)
        if not results or config.get(PHASE_KEY, SEARCH) != SEARCH:
            continue
        trial = results[0]["trial_id"]
        rows[trial] = {r["training_iteration"]: r[metric] for r in results if metric in r}
        arms[trial] = str(config.get(ARM_KEY, config.get("norm_arm", config.get("mixture"))))
    curves = pd.DataFrame.from_dict(rows, orient="index").sort_index(axis=1)
    complete = curves.dropna()  # trials that reached the full budget
    return complete, {t: arms[t] for t in complete.index}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", default="norm_sweep")
    p.add_argument("--quick", action="store_true", help="smoke data, 2 trials per arm, two arms")
    p.add_argument("--arms", nargs="+", metavar="ARM", help="run only these arms of the study "
                   "(the launcher's --arms)")
    p.add_argument("--asha", type=Path, help="a finished ASHA experiment to reuse")
    p.add_argument("--storage", type=Path, help="where the runs go (default: a temp folder)")
    p.add_argument("--full", type=Path, help="a finished full-budget replay of --asha to reuse")
    args = p.parse_args()
    storage = args.storage or Path(tempfile.mkdtemp(prefix="bench_search_"))
    budget = ["--smoke", "--num-samples", "2"] if args.quick else []
    # (not with --asha: the replay runs that experiment's arms, whichever they are)
    arms = args.arms or (QUICK_ARMS.get(args.study) if args.quick and not args.asha else None)
    if arms:
        budget += ["--arms", *arms]
    asha_dir, t_asha = args.asha, float("nan")
    if asha_dir is None:
        asha_dir = storage / "asha"
        t_asha = launch(args.study, storage, "asha", budget)
    if args.full is not None:
        full_dir, t_full = args.full, float("nan")
    else:
        full_dir = storage / "full"
        t_full = launch(args.study, storage, "full",
                        [*budget, "--no-early-stopping", "--replay", str(asha_dir.resolve())])
    asha, _, info = load(asha_dir)
    full, full_metrics, _ = load(full_dir)
    max_epochs = int(full["iterations"].max())
    e_asha, e_full = int(asha["iterations"].sum()), int(full["iterations"].sum())
    print(f"\n{info['study']}: {len(asha)} configurations, max {max_epochs} epochs each")
    print(f"epochs trained: ASHA {e_asha}, full budget {e_full}: ASHA spends "
          f"{e_asha / e_full:.0%} of the full budget")
    print(f"wall time (launcher): ASHA {t_asha:.0f} s, full budget {t_full:.0f} s")
    arm = arm_column(full)
    rows = [compare(asha, full, full_metrics, info, "overall")]
    for name in sorted(full[arm].unique()):
        rows.append(compare(asha[asha[arm] == name], full[full[arm] == name], full_metrics, info,
                            str(name)))
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 140, "display.precision", 4):
        print(table.to_string(index=False))
    print(f"same best configuration: {int(table.same_pick.sum())}/{len(table)} groups; "
          f"within noise (same, or shortfall <= 2 sd): {int(table.within_noise.sum())}/"
          f"{len(table)}")
    curves, arms = objective_curves(full_dir, info["metric"])
    settings = sweep_settings(curves, arms, graces=(1, 2, 3, 4, 5), reduction_factors=(2, 3),
                              mode=info["mode"])
    print("\nASHA settings replayed on the full-budget curves (analysis.search_efficiency):")
    with pd.option_context("display.width", 140, "display.precision", 4):
        print(settings.to_string(index=False))
    print(f"runs kept in {storage}")


if __name__ == "__main__":
    main()
