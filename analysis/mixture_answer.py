"""The mixture studies' answer from their confirm trials (Lin and Heckel's three claims).

With :class:`analysis.confirm.ConfirmScores` of SSIM per clean test set (per slice, averaged
per volume, then over the set's volumes, under the seed x volume bootstrap):

- **Joint versus separate**, per target distribution ``T``: each mixture arm ``M`` minus a
  *separate* (single-distribution) model, paired on ``T``'s test slices. In distribution (``T``
  in ``M``): the arm trained on ``T`` alone, ``single:T`` (does the mixture match the
  specialist?). Out of distribution (``T`` not in ``M``): the best on ``T`` of the specialists
  of ``M``'s own distributions, ``single:D`` for ``D`` in ``M``; like ``M`` they never saw
  ``T``, so the difference is what training on the mixture instead of one of its parts buys
  on unseen data (the paper's question). Comparing with ``single:T`` there would pit the
  mixture against a model trained on the target itself. Where those arms are missing: the
  best single arm on ``T`` (in distribution), or the best that did not train on ``T`` (out).
  ``in-mixture`` and ``out-of-mixture`` rows average the pairs whose ``T`` the mixture did or
  did not train on, within each replicate, so they carry intervals too.
- **Reference**: the zero-filled reconstruction's SSIM on the same slices (its per-slice rows
  are in ``slice_metrics.parquet`` as ``zero_filled_ssim``).
- **Train-test similarity**: its correlation with SSIM over the OOD (arm, target) pairs, with
  an interval from the same replicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.bootstrap import interval, nanmean
from analysis.confirm import ConfirmScores, recon_set_scores
from search_spaces.mixtures import resolve_mixture
from study.experiment_format import CONFIRM, ZERO_FILLED_PREFIX

IN_MIXTURE, OUT_OF_MIXTURE = "in-mixture", "out-of-mixture"
ZERO_FILLED = f"{ZERO_FILLED_PREFIX}ssim"
SINGLE = "single:"


def arm_members(trials: pd.DataFrame, pool: Sequence[str]) -> dict[str, list[str]]:
    """Arm -> the distributions its confirm trials trained on (its mixture, resolved)."""
    confirm = trials[trials["phase"] == CONFIRM]
    out = {}
    for arm, rows in confirm.groupby("arm", sort=False):
        config = {"mixture": rows["config/mixture"].iloc[0]} if "config/mixture" in rows else {}
        weights = {k.removeprefix("config/"): v for k, v in rows.iloc[0].items()
                   if str(k).startswith("config/w_")}
        out[str(arm)] = sorted(resolve_mixture({**config, **weights}, pool).weights)
    return out


def clean_targets(scores: ConfirmScores) -> dict[str, dict[str, np.ndarray]]:
    """Test distribution -> trial -> SSIM replicates on its clean test set."""
    s = scores.sets
    clean = (s["shift"] == "none") & (s["eval_set"] == s["distribution"])
    return {d: scores.per_trial(clean & (s["distribution"] == d))
            for d in sorted(s.loc[clean, "distribution"].unique())}


def id_scores(targets: Mapping[str, Mapping[str, np.ndarray]], scores: ConfirmScores,
              members: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """Each trial's ID SSIM: the mean over its arm's training distributions."""
    arm_of = scores.sets.drop_duplicates("trial_id").set_index("trial_id")["arm"]
    return {t: nanmean([targets[d][t] for d in members[a] if d in targets], axis=0)
            for t, a in arm_of.items()}


def zero_filled(samples: pd.DataFrame, scores: ConfirmScores) -> dict[str, float]:
    """The zero-filled reconstruction's SSIM per clean test distribution (the same for every
    trial: its inputs do not depend on the model)."""
    rows = samples[(samples["metric"] == ZERO_FILLED) & (samples["shift"] == "none")]
    if rows.empty:
        return {}
    first = rows["trial_id"].iloc[0]
    sets, values = recon_set_scores(rows[rows["trial_id"] == first], scores.resampling,
                                    ZERO_FILLED)
    return {str(d): float(v[0]) for d, v in zip(sets["distribution"], values, strict=True)}


def separate_arm(target: str, mixture: Sequence[str], arms: Sequence[str], targets,
                 scores: ConfirmScores) -> str | None:
    """The single-distribution arm a mixture arm (trained on ``mixture``) is compared with on
    ``target`` (see the module docstring): ``single:T`` when ``T`` is in the mixture, else the
    best on ``T`` of the single arms of the mixture's own distributions, which never saw ``T``
    either. Without such an arm: the best single arm on ``T`` that did not train on ``T``
    (in the mixture: the best single arm of all)."""
    own = f"{SINGLE}{target}"
    singles = [a for a in arms if a.startswith(SINGLE)]
    if target in mixture:
        if own in arms:
            return own
        candidates = singles
    else:
        candidates = ([a for a in singles if a.removeprefix(SINGLE) in mixture]
                      or [a for a in singles if a != own])
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    res = scores.resampling
    return max(candidates, key=lambda a: np.nan_to_num(res.arm_mean(a, targets[target])[0],
                                                       nan=-np.inf))


def joint_vs_separate(scores: ConfirmScores, targets, members: Mapping[str, Sequence[str]],
                      confidence: float = 0.95) -> pd.DataFrame:
    """``headline.csv`` rows (with an ``in_mixture`` column): every mixture arm against the
    separate model of every target, then the in- and out-of-mixture averages."""
    res, arms = scores.resampling, list(scores.n_seeds)
    rows, pooled = [], {IN_MIXTURE: [], OUT_OF_MIXTURE: []}
    for target, per_trial in targets.items():
        for arm in arms:
            separate = separate_arm(target, members[arm], arms, targets, scores)
            if arm.startswith(SINGLE) or separate is None:
                continue
            diff = res.arm_mean(arm, per_trial) - res.arm_mean(separate, per_trial)
            inside = target in members[arm]
            pooled[IN_MIXTURE if inside else OUT_OF_MIXTURE].append(diff)
            rows.append(_row(f"{arm} - {separate}", target, diff, confidence,
                             min(scores.n_seeds[arm], scores.n_seeds[separate]),
                             scores.n_volumes.get(target, 0), inside))
    for kind, diffs in pooled.items():
        if diffs:
            rows.append(_row("mixtures - separate", kind, nanmean(diffs, axis=0), confidence,
                             min(scores.n_seeds.values()), min(scores.n_volumes.values()),
                             kind == IN_MIXTURE))
    return pd.DataFrame(rows)


def _row(comparison: str, target: str, diff: np.ndarray, confidence: float, n_seeds: int,
         n_volumes: int, in_mixture: bool) -> dict:
    return {"comparison": comparison, "quantity": "ssim", "target": target,
            **interval(diff, confidence), "n_seeds": n_seeds, "n_volumes": n_volumes,
            "in_mixture": in_mixture}


def similarity_correlation(pairs: pd.DataFrame, scores: ConfirmScores, targets,
                           confidence: float = 0.95) -> pd.DataFrame:
    """Pearson and Spearman correlation of train-test similarity with SSIM over the OOD
    (arm, test distribution) pairs, with intervals from the seed x volume replicates (the
    similarity of a pair is fixed; its SSIM is resampled)."""
    from scipy import stats

    ood = pairs[~pairs["in_mixture"].astype(bool)]
    ood = ood[ood["group"].isin(scores.n_seeds) & ood["test_set"].isin(targets)]
    if len(ood) < 3:
        return pd.DataFrame()
    x = ood["similarity"].to_numpy(float)
    y = np.stack([scores.resampling.arm_mean(a, targets[t])
                  for a, t in zip(ood["group"], ood["test_set"], strict=True)], axis=1)
    out = []
    for name, fn in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr)):
        values = np.array([fn(x, row).statistic if np.isfinite(row).all() and np.ptp(row) > 0
                           else np.nan for row in y])
        out.append({"statistic": name, "n_pairs": len(ood), **interval(values, confidence)})
    return pd.DataFrame(out)
