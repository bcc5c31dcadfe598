"""Constructed experiment directories with the structure ``study.results`` writes.

The values follow simple formulas, so tests can state the expected gaps exactly:

Diagnosis (``write_diagnosis_experiment``): arms ``batch``, ``group``, ``layer``, two trials
each plus one errored ``group`` trial without results; four iterations (one ``layer`` trial
stopped early after two). Trial ``j`` of arm ``a`` at iteration ``i``:

- clean ID test AUROC on ``knee_pd_3T``: ``BASE[a] + 0.02 i + 0.01 j``; validation the same;
- under shift ``s`` at severity ``k``: ID minus ``DROP[a] * FACTOR[s] * k * (1 + 0.1 j)``;
- on the other scanner ``knee_pd_1.5T``: ID minus ``DIST_DROP[a] * (1 + 0.1 j)``.

Reconstruction (``write_recon_experiment``): mixtures over two distributions of the tiny
synthetic preset, ID SSIM rising with iteration and OOD SSIM peaking at iteration 2.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

ARMS = ("batch", "group", "layer")
BASE = {"batch": 0.80, "group": 0.78, "layer": 0.76}
DROP = {"batch": 0.05, "group": 0.01, "layer": 0.02}
DIST_DROP = {"batch": 0.10, "group": 0.03, "layer": 0.05}
FACTOR = {"noise": 1.0, "motion": 2.0}
SEVERITIES = (1, 2, 3)
ITERATIONS = 4
ID_SET, OOD_SET = "knee_pd_3T", "knee_pd_1.5T"


def id_auroc(arm: str, j: int, i: int) -> float:
    """Clean in-distribution AUROC of trial ``j`` of ``arm`` at iteration ``i``."""
    return BASE[arm] + 0.02 * i + 0.01 * j


def shift_gap(arm: str, j: int, shift: str, severity: int) -> float:
    """The constructed OOD gap under a shift."""
    return DROP[arm] * FACTOR[shift] * severity * (1 + 0.1 * j)


def dist_gap(arm: str, j: int) -> float:
    """The constructed OOD gap on the other distribution."""
    return DIST_DROP[arm] * (1 + 0.1 * j)


def _row(trial: str, it: int, eval_set: str, shift: str, sev: int, metric: str, value: float,
         in_dist: bool) -> dict:
    return {"trial_id": trial, "iteration": it, "eval_set": eval_set, "shift": shift,
            "severity": sev, "metric": metric, "value": value, "in_distribution": in_dist}


def diagnosis_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trials, metrics)`` of the constructed diagnosis study (see the module docstring)."""
    trials, metrics = [], []
    for arm in ARMS:
        for j in range(2):
            trial = f"{arm}_{j}"
            iterations = 2 if (arm, j) == ("layer", 1) else ITERATIONS
            for i in range(1, iterations + 1):
                idv = id_auroc(arm, j, i)
                metrics.append(_row(trial, i, "val", "none", 0, "auroc", idv, True))
                metrics.append(_row(trial, i, "val", "none", 0, "val_auroc", idv, True))
                metrics.append(_row(trial, i, ID_SET, "none", 0, "auroc", idv, True))
                metrics.append(_row(trial, i, ID_SET, "none", 0, "auroc_acl", idv, True))
                for shift in FACTOR:
                    for sev in SEVERITIES:
                        metrics.append(_row(trial, i, ID_SET, shift, sev, "auroc",
                                            idv - shift_gap(arm, j, shift, sev), True))
                metrics.append(_row(trial, i, OOD_SET, "none", 0, "auroc",
                                    idv - dist_gap(arm, j), False))
            best = iterations
            trials.append({
                "trial_id": trial, "status": "TERMINATED", "error": "", "phase": "confirm",
                "arm": arm, "iterations": iterations,
                "best_iteration": best, "stopped_early": iterations < ITERATIONS,
                "node_ip": "127.0.0.1", "config/norm_arm": arm,
                "config/norm": "batch" if arm == "batch" else arm, "config/lr": 1e-3 * (j + 1),
                "config/max_epochs": ITERATIONS, "config/seed": 0,
                "best/val_auroc": id_auroc(arm, j, best),
                "final/val_auroc": id_auroc(arm, j, iterations),
            })
    trials.append({
        "trial_id": "group_err", "status": "ERROR", "phase": "confirm", "arm": "group",
        "error": "NonFiniteLossError: training loss became nan at epoch 0, step 0",
        "iterations": 0, "best_iteration": None, "stopped_early": False, "node_ip": "",
        "config/norm_arm": "group", "config/norm": "group", "config/lr": 0.5,
        "config/max_epochs": ITERATIONS, "config/seed": 0,
        "best/val_auroc": None, "final/val_auroc": None,
    })
    return pd.DataFrame(trials), pd.DataFrame(metrics)


def write_diagnosis_experiment(path: Path, with_study_json: bool = True) -> Path:
    """Write the constructed diagnosis experiment under ``path``; return it."""
    path.mkdir(parents=True, exist_ok=True)
    trials, metrics = diagnosis_tables()
    trials.to_parquet(path / "trials.parquet", index=False)
    metrics.to_parquet(path / "metrics.parquet", index=False)
    diagnosis_predictions(trials).to_parquet(path / "predictions.parquet", index=False)
    if with_study_json:
        write_diagnosis_study_json(path)
    return path


def write_diagnosis_study_json(path: Path, arms: tuple[str, ...] = ARMS) -> None:
    """The ``study.json`` the launcher would have written for the constructed diagnosis study."""
    info = {"study": "constructed_norm", "task": "diagnosis", "metric": "val_auroc",
            "mode": "max", "max_epochs": ITERATIONS, "arms": list(arms),
            "distributions": [ID_SET, OOD_SET], "train_pool": [ID_SET]}
    (path / "study.json").write_text(json.dumps(info))


def diagnosis_predictions(trials: pd.DataFrame, volumes: int = 10, slices: int = 4,
                          seed: int = 0) -> pd.DataFrame:
    """Per-slice predictions of every finished trial (``predictions.parquet``): finding
    ``acl`` on ``knee_pd_3T`` (clean and under each shift and severity) and ``knee_pd_1.5T``.
    Scores are ``label * signal + noise``; a shift at severity ``k`` removes
    ``DROP[arm] * FACTOR[shift] * k`` of the signal, the other distribution ``DIST_DROP``."""
    rng = np.random.default_rng(seed)
    frames = []
    for trial in trials[trials["status"] == "TERMINATED"].itertuples():
        arm = trial.arm
        for dist in (ID_SET, OOD_SET):
            names = np.repeat([f"{dist}-{v}" for v in range(volumes)], slices)
            labels = (rng.random(len(names)) < 0.4).astype(np.int8)
            noise = rng.normal(0, 1.0, len(names))
            cells = [("none", 0, 0.0)]
            if dist == ID_SET:
                cells += [(s, k, DROP[arm] * FACTOR[s] * k) for s in FACTOR for k in SEVERITIES]
            for shift, severity, drop in cells:
                loss = drop + (DIST_DROP[arm] if dist == OOD_SET else 0.0)
                frames.append(pd.DataFrame({
                    "trial_id": trial.trial_id, "eval_set": dist, "distribution": dist,
                    "shift": shift, "severity": severity, "volume": names,
                    "slice": np.tile(np.arange(slices), volumes), "finding": "acl",
                    "label": labels, "score": labels * 2.0 * (1 - 4 * loss) + noise,
                }))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ reconstruction
RECON_DISTS = ("knee_pd_3T", "brain_t2_3T")
RECON_TESTS = ("knee_pd_3T", "brain_t2_3T", "knee_pd_1.5T", "knee_pdfs_3T", "brain_t2_1.5T")
MIXTURES = {
    "single:knee_pd_3T": ("knee_pd_3T",),
    "single:brain_t2_3T": ("brain_t2_3T",),
    "joint:knee_pd_3T+brain_t2_3T": RECON_DISTS,
    "healthy:joint:knee_pd_3T+brain_t2_3T": RECON_DISTS,
}
# how close each test distribution is to each training distribution (drives OOD quality)
AFFINITY = {
    ("knee_pd_3T", "knee_pd_1.5T"): 0.8, ("knee_pd_3T", "knee_pdfs_3T"): 0.6,
    ("brain_t2_3T", "brain_t2_1.5T"): 0.8,
}


def recon_ssim(members: tuple[str, ...], test: str, i: int, j: int) -> float:
    """Constructed SSIM: ID rises with iteration; OOD peaks at iteration 2, then falls."""
    if test in members:
        return 0.80 + 0.02 * i + 0.005 * j - 0.01 * (len(members) - 1)
    affinity = max((AFFINITY.get((m, test), 0.2) for m in members), default=0.2)
    return 0.45 + 0.3 * affinity + 0.02 * min(i, 2) - 0.015 * max(0, i - 2) + 0.005 * j


def recon_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trials, metrics)`` of the constructed mixture study."""
    trials, metrics = [], []
    for mixture, members in MIXTURES.items():
        count = 1 if mixture.startswith("healthy:") else 2
        for j in range(count):
            trial = f"{mixture.replace(':', '_').replace('+', '_')}_{j}"
            for i in range(1, ITERATIONS + 1):
                for d in members:
                    metrics.append(_row(trial, i, f"val_{d}", "none", 0, "ssim",
                                        recon_ssim(members, d, i, j), True))
                metrics.append(_row(trial, i, "val", "none", 0, "val_ssim", np.mean(
                    [recon_ssim(members, d, i, j) for d in members]), True))
                for test in RECON_TESTS:
                    value = recon_ssim(members, test, i, j)
                    inside = test in members
                    lesion = value - (0.05 if mixture.startswith("healthy:") else 0.0) - 0.01 * j
                    for metric, v in (("ssim", value), ("psnr", 20 + 10 * value),
                                      ("nmse", 1 - value), ("ssim_lesion", lesion)):
                        metrics.append(_row(trial, i, test, "none", 0, metric, v, inside))
                for sev in (1, 2):
                    value = recon_ssim(members, "knee_pd_3T", i, j) - 0.05 * sev
                    metrics.append(_row(trial, i, "knee_pd_3T", "noise", sev, "ssim", value,
                                        "knee_pd_3T" in members))
            val = [np.mean([recon_ssim(members, d, i, j) for d in members])
                   for i in range(1, ITERATIONS + 1)]
            trials.append({
                "trial_id": trial, "status": "TERMINATED", "error": "", "phase": "confirm",
                "arm": mixture, "iterations": ITERATIONS,
                "best_iteration": int(np.argmax(val)) + 1,
                "stopped_early": False, "node_ip": "127.0.0.1", "config/mixture": mixture,
                "config/model": "unet", "config/lr": 1e-3 * (j + 1),
                "config/max_epochs": ITERATIONS, "best/val_ssim": max(val),
                "final/val_ssim": val[-1],
            })
    trials.append({
        "trial_id": "joint_err", "status": "ERROR", "error": "worker died", "phase": "confirm",
        "arm": "joint:knee_pd_3T+brain_t2_3T",
        "iterations": 0, "best_iteration": None, "stopped_early": False, "node_ip": "",
        "config/mixture": "joint:knee_pd_3T+brain_t2_3T", "config/model": "unet",
        "config/lr": 0.5, "config/max_epochs": ITERATIONS, "best/val_ssim": None,
        "final/val_ssim": None,
    })
    return pd.DataFrame(trials), pd.DataFrame(metrics)


def recon_slice_metrics(trials: pd.DataFrame, volumes: int = 6, slices: int = 3) -> pd.DataFrame:
    """Per-slice SSIM of every finished trial at its best iteration on every test set (the
    constructed value plus a volume effect shared by all trials and slice noise), and the
    zero-filled reconstruction's (0.55 plus the same volume effect)."""
    rows = []
    for trial in trials[trials["status"] == "TERMINATED"].itertuples():
        members, j = MIXTURES[trial.arm], int(trial.trial_id.rsplit("_", 1)[1])
        sets = [(t, "none", 0, 0.0) for t in RECON_TESTS]
        sets += [("knee_pd_3T", "noise", sev, 0.05 * sev) for sev in (1, 2)]
        for test, shift, sev, drop in sets:
            # crc32, not hash(): str hashes are salted per process, and the test values are pinned
            volume_rng = np.random.default_rng(zlib.crc32(test.encode()))
            effect = volume_rng.normal(0, 0.02, volumes)
            noise = np.random.default_rng(len(rows)).normal(0, 0.003, (volumes, slices))
            value = recon_ssim(members, test, int(trial.best_iteration), j) - drop
            for v in range(volumes):
                for k in range(slices):
                    base = dict(trial_id=trial.trial_id, eval_set=test, distribution=test,
                                shift=shift, severity=sev, volume=f"{test}-v{v}", slice=k)
                    rows.append({**base, "metric": "ssim",
                                 "value": value + effect[v] + noise[v, k]})
                    rows.append({**base, "metric": "zero_filled_ssim",
                                 "value": 0.55 + effect[v]})
    return pd.DataFrame(rows)


def write_recon_experiment(path: Path, data_dir: Path | None) -> Path:
    """Write the constructed mixture experiment under ``path``; return it."""
    path.mkdir(parents=True, exist_ok=True)
    trials, metrics = recon_tables()
    trials.to_parquet(path / "trials.parquet", index=False)
    metrics.to_parquet(path / "metrics.parquet", index=False)
    recon_slice_metrics(trials).to_parquet(path / "slice_metrics.parquet", index=False)
    info = {"study": "constructed_mixtures", "task": "recon", "metric": "val_ssim",
            "mode": "max", "max_epochs": ITERATIONS, "arms": list(MIXTURES),
            "distributions": list(RECON_TESTS), "train_pool": list(RECON_DISTS),
            "data_dir": str(data_dir) if data_dir else None}
    (path / "study.json").write_text(json.dumps(info))
    return path
