"""What an early-stopping setting would have spent and picked, replayed on full-budget curves.

A full-budget run (``python -m study.launch STUDY --no-early-stopping``) records every trial's
objective at every epoch. Because a trial's first epochs do not depend on whether it is stopped
later, asynchronous successive halving (ASHA) can be replayed on those curves offline, for any
grace period, reduction factor, and with one ASHA over all trials or one per arm, at no
training cost. The replay follows Ray Tune's ``AsyncHyperBandScheduler`` bracket rule: at a rung
``grace * rf**k`` a trial stops when its objective is below the ``(1 - 1/rf)`` quantile of the
values recorded at that rung before it (the first trial at a rung always goes on). Trials start
in creation order, ``concurrency`` at a time, and every epoch takes the same time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def rungs(grace: int, reduction_factor: float, max_epochs: int) -> list[int]:
    """Ray's milestones: ``grace * rf**k`` below ``max_epochs``."""
    out, k = [], 0
    while grace * reduction_factor**k < max_epochs:
        out.append(int(grace * reduction_factor**k))
        k += 1
    return out


def replay_asha(
    curves: pd.DataFrame,
    arms: Mapping[str, str],
    grace: int,
    reduction_factor: float,
    per_arm: bool,
    mode: str = "max",
    concurrency: int = 2,
) -> dict[str, int]:
    """Epochs each trial would train under ASHA.

    ``curves``: one row per trial (index = trial id, in creation order), one column per epoch
    ``1..max_epochs``, the objective. ``arms``: trial id -> arm name (used when ``per_arm``).
    """
    max_epochs = int(curves.columns.max())
    milestones = set(rungs(grace, reduction_factor, max_epochs))
    sign = 1.0 if mode == "max" else -1.0
    recorded: dict[tuple[str, int], list[float]] = {}
    queue, running, trained = list(curves.index), {}, {}
    while queue or running:
        while queue and len(running) < concurrency:
            running[queue.pop(0)] = 0
        for trial in list(running):
            running[trial] += 1
            epoch = running[trial]
            stop = epoch >= max_epochs
            if epoch in milestones:
                value = sign * float(curves.at[trial, epoch])
                seen = recorded.setdefault((arms[trial] if per_arm else "", epoch), [])
                if seen and value < np.nanpercentile(seen, (1 - 1 / reduction_factor) * 100):
                    stop = True
                seen.append(value)
            if stop:
                trained[trial] = epoch
                del running[trial]
    return trained


def picks(
    curves: pd.DataFrame, arms: Mapping[str, str], trained: Mapping[str, int], mode: str = "max"
) -> pd.DataFrame:
    """Per arm: the trial the study would pick (best objective over the epochs it trained),
    the trial the full budget picks, and the full-budget objective of each."""
    best = curves.max(axis=1) if mode == "max" else curves.min(axis=1)
    seen = pd.Series({t: curves.loc[t, 1 : trained[t]].agg(mode) for t in curves.index})
    rows = []
    for arm in sorted(set(arms.values())):
        ids = [t for t in curves.index if arms[t] == arm]
        choose = seen[ids].idxmax() if mode == "max" else seen[ids].idxmin()
        ideal = best[ids].idxmax() if mode == "max" else best[ids].idxmin()
        rows.append({"arm": arm, "pick": choose, "best": ideal, "pick_full": best[choose],
                     "best_full": best[ideal], "shortfall": abs(best[ideal] - best[choose])})
    return pd.DataFrame(rows)


def sweep_settings(
    curves: pd.DataFrame,
    arms: Mapping[str, str],
    graces: Sequence[int],
    reduction_factors: Sequence[float],
    mode: str = "max",
    concurrency: int = 2,
) -> pd.DataFrame:
    """Budget share and pick quality of every (scope, grace, reduction factor) setting."""
    rows = []
    full = curves.shape[1] * len(curves)
    for per_arm in (False, True):
        for grace in graces:
            for rf in reduction_factors:
                trained = replay_asha(curves, arms, grace, rf, per_arm, mode, concurrency)
                result = picks(curves, arms, trained, mode)
                rows.append({
                    "scope": "per arm" if per_arm else "global", "grace": grace, "rf": rf,
                    "epochs_share": sum(trained.values()) / full,
                    "same_pick": int((result["pick"] == result["best"]).sum()),
                    "arms": len(result),
                    "mean_shortfall": float(result["shortfall"].mean()),
                    "worst_shortfall": float(result["shortfall"].max()),
                })
    return pd.DataFrame(rows)
