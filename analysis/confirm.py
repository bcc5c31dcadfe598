"""The study's answer, from its confirm trials only (see "Answers" in the design).

Every confirm trial's score on every test set is computed from its per-sample rows under the
hierarchical bootstrap of :mod:`analysis.bootstrap` (replicate 0 = the data as observed):

- diagnosis: :func:`mri.metrics.diagnosis_score` of the set, the mean over the set's own
  findings (both classes present in the set; ``any`` apart) of per-finding AUROC, weighted by
  the replicate's volume counts;
- reconstruction: SSIM per slice (fastMRI's definition, volume maximum as data range), averaged
  per volume, then over the set's volumes, weighted by the replicate's volume counts.

From those:

- **ID score** of a trial: the mean of its clean test scores over the training distributions;
- **OOD gap** (diagnosis): the clean score of a training distribution minus its score on the
  same slices under a shift; for a clean set of another distribution, the ID score of the
  training distributions of the same anatomy (all of them if none shares it) minus the set's
  score. Positive means worse out of distribution. A **target** is a shift kind (mean over its
  severities and the training distributions) or another distribution; ``all`` is the mean over
  the targets, each counted once;
- an **arm's** value is the mean over its confirm trials (seeds), and a **comparison**
  ``A - B`` is the arm values' difference within each replicate, paired on the same slices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.bootstrap import (
    Resampling,
    interval,
    make_resampling,
    nanmean,
    volume_table,
    weighted_auroc,
    weighted_mean,
)
from analysis.tables import is_validation
from mri.data.distributions import label_anatomy
from mri.metrics import ANY_FINDING
from study.experiment_format import CONFIRM, Task

ALL = "all"
SET_KEYS = ["trial_id", "eval_set", "distribution", "shift", "severity"]


@dataclass
class ConfirmScores:
    """Each confirm trial's score per test set and replicate: ``sets`` (``SET_KEYS`` and
    ``arm``) row ``i`` has the replicates ``values[i]``."""

    sets: pd.DataFrame
    values: np.ndarray
    resampling: Resampling

    def per_trial(self, rows: pd.Series) -> dict[str, np.ndarray]:
        """Each trial's mean over the selected set rows (boolean mask on ``sets``); a trial
        with none gets NaN."""
        out = {}
        for trial_id in self.sets["trial_id"].unique():
            chosen = np.flatnonzero((rows & (self.sets["trial_id"] == trial_id)).to_numpy())
            out[trial_id] = (nanmean(self.values[chosen], axis=0) if chosen.size
                             else np.full(self.values.shape[1], np.nan))
        return out

    @property
    def n_volumes(self) -> dict[str, int]:
        return {d: len(v) for d, v in self.resampling.volumes.items()}

    @property
    def n_seeds(self) -> dict[str, int]:
        return {a: len(t) for a, t in self.resampling.arm_trials.items()}


def confirm_arms(trials: pd.DataFrame) -> dict[str, list[str]]:
    """Arm -> its confirm trials that finished (``TERMINATED``), in table order."""
    done = trials[(trials["phase"] == CONFIRM) & (trials["status"] == "TERMINATED")]
    return {str(a): list(g["trial_id"]) for a, g in done.groupby("arm", sort=False)}


def confirm_scores(task: Task, trials: pd.DataFrame, samples: pd.DataFrame | None,
                   n_boot: int = 1000, seed: int = 0) -> ConfirmScores | None:
    """Scores of every finished confirm trial on every test set (None without any)."""
    arms = confirm_arms(trials)
    if samples is None or samples.empty or not arms:
        return None
    kept = {t for ts in arms.values() for t in ts}
    samples = samples[samples["trial_id"].isin(kept) & ~is_validation(samples["eval_set"])]
    if samples.empty:
        return None
    resampling = make_resampling(volume_table(samples), arms, n_boot, seed)
    score = _diagnosis_set_scores if task.name == "diagnosis" else recon_set_scores
    sets, values = score(samples, resampling)
    arm_of = {t: a for a, ts in arms.items() for t in ts}
    sets["arm"] = sets["trial_id"].map(arm_of)
    return ConfirmScores(sets, values, resampling)


def _volume_codes(frame: pd.DataFrame, resampling: Resampling, dist: str) -> np.ndarray:
    return pd.Categorical(frame["volume"], categories=resampling.volumes[dist]).codes


def _diagnosis_set_scores(pred: pd.DataFrame, resampling: Resampling):
    pred = pred[pred["finding"] != ANY_FINDING]
    keys, values = [], []
    for dist, part in pred.groupby("distribution", sort=True, observed=True):
        part = part.assign(_code=_volume_codes(part, resampling, dist))
        weights = resampling.volume_weights[dist]
        for key, group in part.groupby(SET_KEYS, sort=True, observed=True):
            aurocs = [weighted_auroc(g["label"].to_numpy(), g["score"].to_numpy(),
                                     weights[:, g["_code"].to_numpy()])
                      for _, g in group.groupby("finding", observed=True)
                      if g["label"].min() != g["label"].max()]
            keys.append(key)
            values.append(nanmean(aurocs, axis=0) if aurocs
                          else np.full(resampling.replicates, np.nan))
    return pd.DataFrame(keys, columns=SET_KEYS), np.array(values)


def recon_set_scores(rows: pd.DataFrame, resampling: Resampling, metric: str = "ssim"):
    """Per set: ``metric`` per slice, averaged per volume, then over the set's volumes under
    each replicate's volume weights. Returns ``(sets, values)``."""
    rows = rows[rows["metric"] == metric]
    keys, values = [], []
    for dist, part in rows.groupby("distribution", sort=True, observed=True):
        for key, group in part.groupby(SET_KEYS, sort=True, observed=True):
            per_volume = group.groupby("volume", observed=True)["value"].mean()
            codes = pd.Categorical(per_volume.index, categories=resampling.volumes[dist]).codes
            keys.append(key)
            values.append(weighted_mean(per_volume.to_numpy(),
                                        resampling.volume_weights[dist][:, codes]))
    return pd.DataFrame(keys, columns=SET_KEYS), np.array(values)


# ---------------------------------------------------------------------- derived quantities
def id_scores(scores: ConfirmScores, train: Sequence[str]) -> dict[str, np.ndarray]:
    """Each trial's ID score: its mean clean test score over the training distributions."""
    s = scores.sets
    return scores.per_trial((s["shift"] == "none") & s["distribution"].isin(train)
                            & (s["eval_set"] == s["distribution"]))


GapValues = dict[str, dict[str, np.ndarray]]  # target -> trial -> replicates


def gap_targets(scores: ConfirmScores, train: Sequence[str]) -> tuple[GapValues, GapValues]:
    """OOD gap replicates (see the module docstring) per target, ``all`` included, and per
    ``(shift, severity)`` cell (keys ``'<shift>@<severity>'``, for the severity curves)."""
    s = scores.sets
    clean = {d: scores.per_trial((s["distribution"] == d) & (s["shift"] == "none"))
             for d in s["distribution"].unique()}
    cells: dict[str, list[dict[str, np.ndarray]]] = defaultdict(list)
    targets: dict[str, list[dict[str, np.ndarray]]] = defaultdict(list)
    for (dist, shift, severity), _ in s[s["shift"] != "none"].groupby(
            ["distribution", "shift", "severity"]):
        shifted = scores.per_trial((s["distribution"] == dist) & (s["shift"] == shift)
                                   & (s["severity"] == severity))
        gap = {t: clean[dist][t] - shifted[t] for t in shifted}
        cells[f"{shift}@{severity}"].append(gap)
        targets[shift].append(gap)
    for other in sorted(set(s["distribution"]) - set(train)):
        refs = [d for d in train if label_anatomy(d) == label_anatomy(other)] or list(train)
        targets[other].append({t: nanmean([clean[d][t] for d in refs], axis=0)
                               - clean[other][t] for t in clean[other]})
    out = {name: _mean_of(parts) for name, parts in targets.items()}
    if out:
        out[ALL] = _mean_of(list(out.values()))
    return out, {name: _mean_of(parts) for name, parts in cells.items()}


def _mean_of(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {t: nanmean([p[t] for p in parts], axis=0) for t in parts[0]}


def target_volumes(scores: ConfirmScores, target: str, train: Sequence[str]) -> int:
    """Fewest test volumes of any distribution a target's values rest on."""
    n = scores.n_volumes
    if target in n:
        refs = [d for d in train if label_anatomy(d) == label_anatomy(target)] or list(train)
        return min(n[d] for d in [target, *refs] if d in n)
    involved = list(n) if target == ALL else [d for d in train if d in n]
    return min(n[d] for d in involved) if involved else 0


# ---------------------------------------------------------------------- tables
def arm_table(scores: ConfirmScores, quantity: str,
              per_target: Mapping[str, Mapping[str, np.ndarray]], train: Sequence[str],
              confidence: float = 0.95) -> pd.DataFrame:
    """Per arm and target: estimate with its interval, seeds and volumes."""
    rows = []
    for target, per_trial in per_target.items():
        for arm, n_seeds in scores.n_seeds.items():
            rows.append({"arm": arm, "quantity": quantity, "target": target,
                         **interval(scores.resampling.arm_mean(arm, per_trial), confidence),
                         "n_seeds": n_seeds,
                         "n_volumes": target_volumes(scores, target, train)})
    return pd.DataFrame(rows)


def comparisons(scores: ConfirmScores, quantity: str,
                per_target: Mapping[str, Mapping[str, np.ndarray]], pairs: Sequence[tuple],
                train: Sequence[str], confidence: float = 0.95) -> pd.DataFrame:
    """``headline.csv`` rows: for each ``(A, B)`` in ``pairs`` and each target, ``A - B`` of the
    arms' values, paired on the same test slices, with its interval."""
    rows = []
    res = scores.resampling
    for a, b in pairs:
        for target, per_trial in per_target.items():
            diff = res.arm_mean(a, per_trial) - res.arm_mean(b, per_trial)
            rows.append({"comparison": f"{a} - {b}", "quantity": quantity, "target": target,
                         **interval(diff, confidence),
                         "n_seeds": min(scores.n_seeds[a], scores.n_seeds[b]),
                         "n_volumes": target_volumes(scores, target, train)})
    return pd.DataFrame(rows, columns=["comparison", "quantity", "target", "estimate",
                                       "ci_low", "ci_high", "n_seeds", "n_volumes"])


def against(reference: str, arms: Sequence[str]) -> list[tuple[str, str]]:
    """``(reference, arm)`` for every other arm."""
    return [(reference, a) for a in arms if a != reference]
