"""The smoke study end to end: its tables, its search, its report, replays of it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from study.results import read_trial_results
from study.studies import get

pytestmark = pytest.mark.slow


def test_smoke_study_end_to_end(smoke_run):
    study = get("smoke")
    trials, metrics = smoke_run["trials"], smoke_run["metrics"]
    budget, arms = study.budget, list(study.strata)
    assert len(trials) == study.total_trials == (budget.num_samples + budget.confirm_seeds) * 3
    assert (trials["status"] == "TERMINATED").all()
    assert (trials["arm"] == trials["config/norm_arm"]).all()
    phases = trials.groupby(["arm", "phase"]).size().to_dict()
    assert phases == {**{(a, "search"): budget.num_samples for a in arms},
                      **{(a, "confirm"): budget.confirm_seeds for a in arms}}
    search, confirm = trials[trials["phase"] == "search"], trials[trials["phase"] == "confirm"]
    _assert_asha_stopped_the_weaker_trials(smoke_run["path"], search)
    # search trials run their own shorter horizon, confirm trials the full one
    assert budget.search_horizon < budget.max_epochs
    assert (search["config/max_epochs"] == budget.search_horizon).all()
    assert search["iterations"].max() == budget.search_horizon
    assert (confirm["config/max_epochs"] == budget.max_epochs).all()
    assert (confirm["iterations"] == budget.max_epochs).all()
    assert not confirm["stopped_early"].any()
    assert trials["best/val_auroc"].between(0, 1).all()
    tuned = ["config/lr", "config/weight_decay", "config/batch_size", "config/groups"]
    for arm, mine in confirm.groupby("arm"):
        # each arm's confirm trials retrain its best search trial, each with a new seed
        arm_search = search[search["arm"] == arm]
        top = arm_search[arm_search["best/val_auroc"] == arm_search["best/val_auroc"].max()]
        picked = {tuple(r) for r in mine[tuned].astype(str).to_numpy()}
        assert len(picked) == 1 and picked <= {tuple(r) for r in top[tuned].astype(str)
                                               .to_numpy()}
        assert mine["config/seed"].nunique() == budget.confirm_seeds
        assert not set(mine["config/seed"]) & set(arm_search["config/seed"])
    # search trials only validate; confirm trials evaluate every set at their best epoch
    tests = metrics[~metrics["eval_set"].str.startswith("val")]
    assert set(tests["trial_id"]) == set(confirm["trial_id"])
    at = tests.groupby("trial_id")["iteration"].unique().map(lambda v: int(v[0]))
    assert at.to_dict() == confirm.set_index("trial_id")["best_iteration"].astype(int).to_dict()
    sets = tests.groupby(["eval_set", "shift", "severity"]).size().index
    assert ("knee_pd_3T", "noise", 3) in sets and ("brain_t2_3T", "motion", 1) in sets
    assert ("knee_pd_1.5T", "none", 0) in sets
    assert not tests[tests["eval_set"] == "knee_pd_1.5T"]["in_distribution"].any()
    assert tests[tests["eval_set"] == "knee_pd_3T"]["in_distribution"].all()
    objective = metrics[(metrics["eval_set"] == "val") & (metrics["metric"] == "val_auroc")]
    assert len(objective) == trials["iterations"].sum()
    assert not metrics.duplicated(
        ["trial_id", "iteration", "eval_set", "shift", "severity", "metric"]
    ).any()
    out = smoke_run["result"].stdout
    assert "per arm: the confirmed configuration" in out and "stopped early by ASHA" in out
    # where to look next: commands on the experiment directory, not Ray's temporary one
    path = smoke_run["path"]
    assert f"-m analysis.report {path}" in out and f"--logdir {path}" in out
    assert f"EXPERIMENT_DIR={path}" in out and "driver_artifacts" not in out
    assert f"optuna-dashboard {path / 'optuna.journal'}" in out
    info = json.loads((smoke_run["path"] / "study.json").read_text())
    assert info["study"] == "smoke" and info["metric"] == "val_auroc"
    assert info["task"] == "diagnosis" and info["confirm_seeds"] == budget.confirm_seeds


def test_the_search_opens_in_optuna(smoke_run):
    """optuna.journal: one Optuna study per arm, named after it, holding that arm's search
    trials with their parameters, their objective at every epoch and their last value."""
    import optuna

    from study.searchers import journal_storage

    storage = journal_storage(smoke_run["path"] / "optuna.journal")
    trials = smoke_run["trials"]
    search = trials[trials["phase"] == "search"].set_index("trial_id")
    assert sorted(optuna.get_all_study_names(storage)) == sorted(get("smoke").strata)
    for arm, rows in search.groupby("arm"):
        found = optuna.load_study(study_name=arm, storage=storage).trials
        assert len(found) == len(rows)
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in found)
        by_params = {(t.params["lr"], t.params["weight_decay"]): t for t in found}
        for _, row in rows.iterrows():
            t = by_params[(row["config/lr"], row["config/weight_decay"])]
            assert len(t.intermediate_values) == row["iterations"]
            assert t.value == pytest.approx(row["final/val_auroc"])


def _assert_asha_stopped_the_weaker_trials(experiment, search: pd.DataFrame) -> None:
    """With two search trials per arm side by side and a first rung at epoch 1 (reduction
    factor 2), the trial created second is stopped there exactly when it scored below the
    first, whichever of the two reached the rung first: the scheduler's state says so, and
    the trials table agrees."""
    state = json.loads((experiment / "scheduler_state.json").read_text())
    stopped = set(search.loc[search["stopped_early"], "trial_id"])
    assert stopped == set(state["stopped"]) and not state["waiting"]
    assert (search.loc[search["stopped_early"], "iterations"] < search["iterations"].max()).all()
    for arm, rungs in state["rungs"].items():
        first = rungs[0]["recorded"]
        assert set(first) == set(search.loc[search["arm"] == arm, "trial_id"]), arm
        older, newer = sorted(first, key=lambda t: state["trials"][t]["order"])
        assert older not in stopped
        assert (newer in stopped) == (first[newer] < first[older]), (arm, rungs)



def test_predictions_of_the_confirm_trials(smoke_run):
    from study.experiment_format import PREDICTIONS_COLUMNS

    trials, metrics = smoke_run["trials"], smoke_run["metrics"]
    pred = pd.read_parquet(smoke_run["path"] / "predictions.parquet")
    assert tuple(pred.columns) == PREDICTIONS_COLUMNS
    confirm = trials[trials["phase"] == "confirm"]
    assert set(pred["trial_id"]) == set(confirm["trial_id"])
    tests = metrics[~metrics["eval_set"].str.startswith("val")]
    assert set(map(tuple, pred[["eval_set", "shift", "severity"]].drop_duplicates()
                   .to_numpy())) == set(map(tuple, tests[["eval_set", "shift", "severity"]]
                                            .drop_duplicates().to_numpy()))
    assert pred["score"].between(0, 1).all() and set(pred["label"]) <= {0, 1}
    # one row per trial, set, slice and finding; every trial scored the same slices and labels
    key = ["trial_id", "eval_set", "shift", "severity", "volume", "slice", "finding"]
    assert not pred.duplicated(key).any()
    per_trial = [g.drop(columns=["trial_id", "score"]).sort_values(key[1:])
                 .reset_index(drop=True) for _, g in pred.groupby("trial_id")]
    for other in per_trial[1:]:
        pd.testing.assert_frame_equal(per_trial[0], other)
    # the reported per-set scores are the ones the predictions give (NaN where a set holds
    # one class only, as the tiny data's single test volume often does)
    from mri.metrics import diagnosis_score, finding_aurocs

    trial = confirm["trial_id"].iloc[0]
    reported = tests[(tests["trial_id"] == trial) & (tests["metric"] == "auroc")]
    for row in reported.itertuples():
        part = pred[(pred["trial_id"] == trial) & (pred["eval_set"] == row.eval_set)
                    & (pred["shift"] == row.shift) & (pred["severity"] == row.severity)]
        wide = part.pivot_table(index=["volume", "slice"], columns="finding",
                                values=["label", "score"])
        expected = diagnosis_score(finding_aurocs(
            wide["label"].to_numpy(), wide["score"].to_numpy(), list(wide["label"].columns)))
        assert row.value == pytest.approx(expected, abs=1e-6, nan_ok=True)


def test_report_from_the_smoke_study(smoke_run, tmp_path):
    from analysis.report import build_report

    index = build_report(smoke_run["path"], out=tmp_path / "report", strict=True)
    html = index.read_text()
    for figure in ("validity.png", "headline.png", "ood_gap_by_arm.png", "gap_vs_severity.png",
                   "effective_robustness.png"):
        assert (tmp_path / "report" / "figures" / figure).stat().st_size > 10_000, figure
        assert figure in html
    # confirm trials score their test sets once, so there is no order of ID and OOD peaks
    assert not (tmp_path / "report" / "figures" / "id_ood_vs_epoch.png").exists()
    assert "no trial has ID and OOD values at two epochs or more" in html
    validity = pd.read_csv(tmp_path / "report" / "tables" / "validity.csv")
    assert set(validity["group"]) == set(get("smoke").strata)
    headline = pd.read_csv(tmp_path / "report" / "tables" / "headline.csv")
    assert set(headline["comparison"]) == {"batch - group", "batch - layer"}


def test_an_existing_experiment_is_not_overwritten(smoke_run, study_cache, launcher):
    before = (smoke_run["path"] / "trials.parquet").read_bytes()
    result = launcher("smoke", "--storage", str(smoke_run["path"].parent), cache=study_cache,
                      timeout=120)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert (smoke_run["path"] / "trials.parquet").read_bytes() == before


def test_replay_without_early_stopping_trains_the_same_configurations_fully(
    smoke_run, tmp_path, study_cache, launcher
):
    result = launcher("smoke", "--storage", str(tmp_path), "--name", "full",
                      "--no-early-stopping", "--replay", str(smoke_run["path"]),
                      cache=study_cache)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    full = pd.read_parquet(tmp_path / "full" / "trials.parquet")
    asha = smoke_run["trials"][smoke_run["trials"]["phase"] == "search"]
    keys = ["config/norm_arm", "config/lr", "config/weight_decay", "config/batch_size",
            "config/groups"]
    assert sorted(map(tuple, full[keys].astype(str).to_numpy())) == sorted(
        map(tuple, asha[keys].astype(str).to_numpy()))
    horizon = get("smoke").budget.search_horizon  # the replayed search trials' own
    assert (full["iterations"] == horizon).all() and not full["stopped_early"].any()
    # same seed and configuration: a replayed trial repeats its (early-stopped) twin's epochs
    twin = asha.sort_values("stopped_early", ascending=False).iloc[0]
    match = full[(full[keys].astype(str) == twin[keys].astype(str)).all(axis=1)].iloc[0]
    a = read_trial_results(next(smoke_run["path"].glob(f"*{twin['trial_id']}*")))
    f = read_trial_results(next((tmp_path / "full").glob(f"*{match['trial_id']}*")))
    for ra, rf in zip(a, f[: len(a)], strict=True):
        assert rf["val_auroc"] == pytest.approx(ra["val_auroc"], abs=1e-6)
    info = json.loads((tmp_path / "full" / "study.json").read_text())
    assert info["early_stopping"] is False and info["replay_of"] == str(smoke_run["path"])


def test_replay_of_a_folder_without_trials_exits_2(tmp_path, study_cache, launcher):
    result = launcher("smoke", "--storage", str(tmp_path), "--replay", str(tmp_path),
                      cache=study_cache, timeout=120)
    assert result.returncode == 2 and "no search trials (no */params.json)" in result.stderr


def test_the_normalization_notebook_runs_on_the_smoke_study(smoke_run, study_cache,
                                                            notebook_on):
    """What a researcher opens after a study: the notebook, top to bottom, on its directory."""
    notebook, images = notebook_on("normalization.ipynb", smoke_run["path"], study_cache)
    drawing = [c for c in notebook.cells if "figure" in c.metadata.get("tags", [])]
    assert drawing and images >= len(drawing)
