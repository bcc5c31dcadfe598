"""Tables rebuilt from Tune's own files when a study has not written them (interrupted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.experiment import load_experiment
from analysis.gaps import trial_gaps
from analysis.trials import trial_overview

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


@pytest.fixture(scope="module")
def tune_experiment(tmp_path_factory) -> Path:
    """A real (tiny) Tune experiment, run in its own process, without the parquet tables."""
    root = tmp_path_factory.mktemp("tune_exp")
    script = root / "run_tune.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(root)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    path = root / "exp"
    (path / "study.json").write_text(json.dumps({"task": "diagnosis", "max_epochs": 2,
                                                 "train_pool": ["knee"],
                                                 "arms": ["batch", "group"]}))
    return path


class _Payload:
    """Unpickling this creates a file: the proof that code from a results directory ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_rebuilding_never_unpickles_from_the_results_directory(tune_experiment, tmp_path):
    import pickle
    import shutil

    path = tmp_path / "exp"
    shutil.copytree(tune_experiment, path)
    marker = tmp_path / "code_ran"
    payload = pickle.dumps(_Payload(marker))
    for pkl in path.rglob("*.pkl"):  # tuner.pkl, searcher state, params.pkl, ...
        pkl.write_bytes(payload)
    state = next(path.glob("experiment_state-*.json"))
    data = json.loads(state.read_text())
    for entry in data["trial_data"]:  # every pickled blob Tune embeds in its JSON state
        meta = json.loads(entry[0])
        for key, value in meta.items():
            if isinstance(value, dict) and value.get("_type") == "CLOUDPICKLE_FALLBACK":
                meta[key]["value"] = payload.hex()
            elif isinstance(value, str) and len(value) > 8 and value.startswith("8005"):
                meta[key] = payload.hex()
        entry[0] = json.dumps(meta)
    state.write_text(json.dumps(data))
    exp = load_experiment(path)
    assert len(exp.trials) == 4 and (exp.trials["status"] == "TERMINATED").all()
    from analysis.report import build_report

    build_report(path, strict=True)
    assert not marker.exists()


def test_tables_are_rebuilt_from_tune_files(tune_experiment):
    path = tune_experiment
    assert not (path / "trials.parquet").exists()
    exp = load_experiment(path)
    assert exp.rebuilt and exp.task == "diagnosis" and exp.info.metric == "val_auroc"
    assert len(exp.trials) == 4 and (trial_overview(exp)["status"] == "TERMINATED").all()
    assert exp.info.max_epochs == 2 and exp.group_by == ("config/norm_arm",)
    gaps = trial_gaps(exp, "best").set_index(["trial_id", "condition"])
    assert set(gaps.index.get_level_values("condition")) == {"noise", "distribution"}
    assert (gaps.xs("distribution", level="condition")["gap"].round(6) == 0.1).all()
    assert not (path / "trials.parquet").exists()  # analysis never writes into the experiment
