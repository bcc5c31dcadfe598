"""Can the study answer its question? The report's first panel.

Per arm (group): its clean in-distribution score from the confirm trials, with its interval,
against a reference (chance, AUROC 0.5, for diagnosis; the zero-filled reconstruction for
reconstruction); whether every confirm trial converged (its objective's best over the last
``CONVERGENCE_EPOCHS`` epochs beat its earlier best by less than the task's tolerance); and
whether its comparisons can be interpreted (ID score at least the reference plus the task's
margin: 0.75 AUROC for diagnosis). One sentence then says whether the study can answer its
question: every compared arm interpretable, every confirm trial converged, and every headline
interval's half-width within the task's resolution (0.04 AUROC for diagnosis).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from study.experiment_format import CONFIRM, CONVERGENCE_EPOCHS, OBJECTIVE_SET, Task

VALIDITY_COLUMNS = ["group", "id_score", "ci_low", "ci_high", "reference", "converged",
                    "interpretable", "n_seeds", "epochs", "last_improvement"]


def last_improvement(values: np.ndarray, epochs: int = CONVERGENCE_EPOCHS) -> float:
    """How much the best of the last ``epochs`` values beats the best before them (negative
    when it does not); NaN with too few values to tell."""
    values = np.asarray(values, dtype=float)
    recent, before = values[-epochs:], values[:-epochs]
    if values.size <= epochs or not (np.isfinite(recent).any() and np.isfinite(before).any()):
        return float("nan")
    return float(np.nanmax(recent) - np.nanmax(before))


def convergence(trials: pd.DataFrame, metrics: pd.DataFrame, task: Task) -> pd.DataFrame:
    """Per confirm trial: ``trial_id, arm, epochs, last_improvement, converged``."""
    confirm = trials[trials["phase"] == CONFIRM]
    curves = metrics[(metrics["eval_set"] == OBJECTIVE_SET) & (metrics["metric"] == task.objective)]
    rows = []
    for row in confirm.itertuples():
        curve = curves[curves["trial_id"] == row.trial_id].sort_values("iteration")["value"]
        gain = last_improvement(curve.to_numpy())
        rows.append({"trial_id": row.trial_id, "arm": row.arm, "epochs": len(curve),
                     "last_improvement": gain,
                     "converged": bool(np.isfinite(gain) and gain < task.converged_tolerance)})
    return pd.DataFrame(rows, columns=["trial_id", "arm", "epochs", "last_improvement",
                                       "converged"])


def validity_table(id_scores: pd.DataFrame, converged: pd.DataFrame,
                   reference: Mapping[str, float], task: Task) -> pd.DataFrame:
    """``validity.csv``: one row per arm. ``id_scores``: the arm table of the ID score
    (``arm, estimate, ci_low, ci_high, n_seeds``); ``reference``: arm -> its reference."""
    rows = []
    for r in id_scores.itertuples():
        mine = converged[converged["arm"] == r.arm]
        ref = float(reference.get(r.arm, np.nan))
        rows.append({
            "group": r.arm, "id_score": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high,
            "reference": ref, "converged": bool(len(mine) and mine["converged"].all()),
            "interpretable": bool(np.isfinite(r.estimate) and r.estimate >= ref + task.margin),
            "n_seeds": r.n_seeds, "epochs": int(mine["epochs"].max()) if len(mine) else 0,
            "last_improvement": float(mine["last_improvement"].max()) if len(mine) else np.nan,
        })
    return pd.DataFrame(rows, columns=VALIDITY_COLUMNS)


def half_width(row) -> float:
    """Half the width of a row's interval (NaN without one)."""
    return float((row["ci_high"] - row["ci_low"]) / 2.0)


def verdict(validity: pd.DataFrame, headline: pd.DataFrame, task: Task,
            overall: tuple[str, ...] = ("all",)) -> str:
    """One sentence: can this study answer its question, and if not, what is missing.
    ``overall``: the headline targets whose interval widths decide it."""
    if validity.empty:
        return ("The study cannot answer its question yet: no confirm trial finished, so there "
                "is no score to interpret.")
    problems = []
    weak = validity[~validity["interpretable"]]
    if len(weak):
        problems.append("in-distribution score below reference + "
                        f"{task.margin:g} for " + ", ".join(
                            f"{r.group} ({r.id_score:.3f})" for r in weak.itertuples())
                        + " (their comparisons are not interpretable)")
    slow = validity[~validity["converged"]]
    if len(slow):
        problems.append("not converged: " + ", ".join(slow["group"]))
    rows = headline[headline["target"].isin(overall)] if len(headline) else headline
    widths = rows.apply(half_width, axis=1) if len(rows) else pd.Series(dtype=float)
    if len(widths) and (~np.isfinite(widths) | (widths > task.resolution)).any():
        shown = f"{widths.max():.3f}" if np.isfinite(widths).all() else "undefined"
        problems.append(f"interval half-widths up to {shown} (needed: {task.resolution:g})")
    if not problems:
        widest = f"{np.nanmax(widths):.3f}" if len(widths) else "n/a"
        return (f"The study can answer its question: every arm scores at least reference + "
                f"{task.margin:g} in distribution (lowest {validity['id_score'].min():.3f}), "
                f"every confirm trial converged, and the overall comparisons' 95% intervals "
                f"are at most ±{widest} wide (needed: ±{task.resolution:g}).")
    return "The study cannot fully answer its question: " + "; ".join(problems) + "."
