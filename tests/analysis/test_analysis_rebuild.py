"""Tables rebuilt from Tune's own files when a study has not written them (interrupted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.experiment import load_experiment, trial_overview
from analysis.gaps import trial_gaps

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


SCRIPT = """
import sys
import ray
from ray import tune
from study.experiment_format import eval_key


def trainable(config):
    for i in range(1, config["max_epochs"] + 1):
        value = 0.6 + 0.1 * i * config["q"]
        tune.report({
            "val_auroc": value,
            eval_key("val", "none", 0, "auroc"): value,
            eval_key("knee", "none", 0, "auroc"): value,
            eval_key("knee", "noise", 1, "auroc"): value - 0.2 * config["q"],
            eval_key("other", "none", 0, "auroc"): value - 0.1,
        })


ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
tune.Tuner(
    trainable,
    param_space={"norm_arm": tune.grid_search(["batch", "group"]), "max_epochs": 2,
                 "q": tune.grid_search([0.5, 1.0])},
    tune_config=tune.TuneConfig(metric="val_auroc", mode="max"),
    run_config=tune.RunConfig(name="exp", storage_path=sys.argv[1], verbose=0),
).fit()
"""


def test_tables_are_rebuilt_from_tune_files(tmp_path):
    """A real (tiny) Tune experiment, run in its own process, without the parquet tables."""
    script = tmp_path / "run_tune.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    path = tmp_path / "exp"
    (path / "study.json").write_text(json.dumps({"train_pool": ["knee"],
                                                 "arms": ["batch", "group"]}))
    assert not (path / "trials.parquet").exists()
    exp = load_experiment(path)
    assert exp.rebuilt and exp.task == "diagnosis" and exp.info.metric == "val_auroc"
    assert len(exp.trials) == 4 and (trial_overview(exp)["status"] == "TERMINATED").all()
    assert exp.info.max_epochs == 2 and exp.group_by == ("config/norm_arm",)
    gaps = trial_gaps(exp, "best").set_index(["trial_id", "condition"])
    assert set(gaps.index.get_level_values("condition")) == {"noise", "distribution"}
    assert (gaps.xs("distribution", level="condition")["gap"].round(6) == 0.1).all()
    assert not (path / "trials.parquet").exists()  # analysis never writes into the experiment
