"""StratifiedASHA inside a real Tune run: a trial that reaches a rung before an earlier trial
of its arm is paused (checkpointed, its worker freed), then stopped or resumed from its
checkpoint on the rung's values, as if the trials had arrived in the order they were made;
interrupted while trials wait, and resumed, it decides the same with no epoch trained twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from study.results import tune_trials

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

# Shared by both runs: three trials of one arm made in the order first, second, third; each
# logs "start N" when its worker starts at epoch N and "epoch N" for each epoch it trains
COMMON = """
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import ray
from ray import tune
from ray.tune.search import BasicVariantGenerator

from study.schedulers import StratifiedASHA

OUT = Path(sys.argv[1])
LOG = OUT / "log"
POINTS = [{"name": "first", "score": 0.5, "last": True},
          {"name": "second", "score": 0.4, "last": False},
          {"name": "third", "score": 0.7, "last": False}]


def log(config, line):
    with open(LOG / config["name"], "a") as out:
        out.write(line + "\\n")


def start_epoch(config):
    checkpoint = tune.get_checkpoint()
    start = 1
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            start = json.loads((Path(folder) / "state.json").read_text())["epoch"] + 1
    log(config, f"start {start}")
    return start


def report(config, epoch):
    log(config, f"epoch {epoch}")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "state.json").write_text(json.dumps({"epoch": epoch}))
        tune.report({"epoch": epoch, "score": config["score"] + 0.01 * epoch},
                    checkpoint=tune.Checkpoint.from_directory(folder))


def new_tuner(trainable, **space):
    return tune.Tuner(
        trainable,
        param_space={"arm": "a", "max_epochs": 3, **space,
                     **{k: tune.choice([p[k] for p in POINTS]) for k in POINTS[0]}},
        tune_config=tune.TuneConfig(
            metric="score", mode="max", num_samples=3,
            search_alg=BasicVariantGenerator(points_to_evaluate=POINTS, max_concurrent=3),
            scheduler=StratifiedASHA({"a": {"arm": "a"}},
                                     state_path=str(OUT / "scheduler_state.json"),
                                     time_attr="epoch", max_t=3, grace_period=1,
                                     reduction_factor=2)),
        run_config=tune.RunConfig(name="exp", storage_path=str(OUT), verbose=0),
    )


LOG.mkdir(exist_ok=True)
ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
"""

SCRIPT = COMMON + """
def trainable(config):
    for epoch in range(start_epoch(config), config["max_epochs"] + 1):
        if epoch == 1 and config["last"]:  # the first trial made reaches the first rung last
            deadline = time.time() + 120
            while len(list(LOG.glob("reached-*"))) < 2 and time.time() < deadline:
                time.sleep(0.2)
            time.sleep(2.0)  # their results reach the scheduler
        if epoch == 1:
            (LOG / f"reached-{config['name']}").touch()
        report(config, epoch)


grid = new_tuner(trainable).fit()
out = {r.config["name"]: [row["epoch"] for _, row in r.metrics_dataframe.iterrows()]
       for r in grid}
(OUT / "epochs.json").write_text(json.dumps(out))
"""


def test_paused_trials_are_decided_in_creation_order_and_resume_from_their_checkpoint(
        tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    # Tune saves its experiment state every step, so a save falls while "second" is paused
    env = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "0"}
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    epochs = json.loads((tmp_path / "epochs.json").read_text())
    # "second" reached the rung first; plain ASHA would have let it go on (nothing recorded
    # yet). Decided after "first", it is below the cut and stopped; "third" waited too and
    # goes on from its checkpoint, nothing repeated
    assert epochs == {"first": [1, 2, 3], "second": [1], "third": [1, 2, 3]}
    log = (tmp_path / "log" / "third").read_text().splitlines()
    assert log == ["start 1", "epoch 1", "start 2", "epoch 2", "epoch 3"]
    state = json.loads((tmp_path / "scheduler_state.json").read_text())
    assert len(state["stopped"]) == 1 and not state["waiting"]
    first_rung = state["rungs"]["a"][0]["recorded"]
    assert sorted(first_rung.values()) == pytest.approx([0.41, 0.51, 0.71])
    # the trial stopped while paused is recorded as ended in Tune's own state too, so the
    # launcher does not take the finished study for an interrupted one
    assert [t.status for t in tune_trials(tmp_path / "exp")] == ["TERMINATED"] * 3


RESUMED_SCRIPT = COMMON + """
def trainable(config):
    for epoch in range(start_epoch(config), config["max_epochs"] + 1):
        if epoch == 1 and config["last"] and not (LOG / "interrupted").exists():
            # the first trial made waits until the two others wait at the rung, then the
            # study is interrupted
            state = OUT / "scheduler_state.json"
            deadline = time.time() + 120
            while time.time() < deadline:
                if state.exists() and len(json.loads(state.read_text())["waiting"]) == 2:
                    break
                time.sleep(0.2)
            time.sleep(2.0)  # Tune pauses them (checkpoint, worker freed)
            (LOG / "interrupted").touch()
            os.kill(config["driver"], signal.SIGINT)
            time.sleep(5)
        elif epoch == 1 and config["last"]:
            time.sleep(4.0)  # after the resume: the waiting trials could train meanwhile
        report(config, epoch)


if (OUT / "exp").exists():
    tuner = tune.Tuner.restore(str(OUT / "exp"), trainable, resume_unfinished=True,
                               resume_errored=False)
else:
    tuner = new_tuner(trainable, driver=os.getpid())
tuner.fit()
"""


def test_trials_waiting_at_an_interruption_train_nothing_more_until_decided(tmp_path):
    """Interrupted (SIGINT) while "second" and "third" wait at the first rung for "first";
    on ``Tuner.restore`` Tune makes them pending and would start them at once. They wait:
    "second" is stopped without training again, "third" resumes from its epoch-1 checkpoint
    once, and every trial ends TERMINATED in Tune's state."""
    script = tmp_path / "run.py"
    script.write_text(RESUMED_SCRIPT)
    for run in ("interrupted", "resumed"):
        done = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, run + done.stderr[-3000:]
    log = {name: (tmp_path / "log" / name).read_text().splitlines()
           for name in ("second", "third")}
    assert log == {"second": ["start 1", "epoch 1"],
                   "third": ["start 1", "epoch 1", "start 2", "epoch 2", "epoch 3"]}
    state = json.loads((tmp_path / "scheduler_state.json").read_text())
    assert len(state["stopped"]) == 1 and not state["waiting"]
    assert [t.status for t in tune_trials(tmp_path / "exp")] == ["TERMINATED"] * 3
