import json

import pytest

from study.experiment_format import eval_key, parse_eval_key
from study.results import flatten_config, metric_rows, read_trial_results, trial_row


def rows():
    return [
        {
            "training_iteration": 1,
            "val_auroc": 0.6,
            eval_key("val", "none", 0, "auroc"): 0.6,
            eval_key("k3", "noise", 2, "auroc"): 0.5,
            "node_ip": "127.0.0.2",
        },
        {
            "training_iteration": 2,
            "val_auroc": 0.8,
            eval_key("val", "none", 0, "auroc"): 0.8,
            eval_key("k3", "noise", 2, "auroc"): 0.55,
            "node_ip": "127.0.0.2",
        },
        {
            "training_iteration": 3,
            "val_auroc": 0.7,
            eval_key("val", "none", 0, "auroc"): 0.7,
            eval_key("k3", "noise", 2, "auroc"): 0.65,
            "node_ip": "127.0.0.3",
        },
    ]


def test_eval_key_round_trip():
    assert parse_eval_key(eval_key("knee_pd_3T", "motion", 4, "ssim")) == (
        "knee_pd_3T",
        "motion",
        4,
        "ssim",
    )
    assert parse_eval_key("val_auroc") is None


def test_trial_row_best_and_final():
    row = trial_row(
        "t1",
        "TERMINATED",
        None,
        {"lr": 0.1, "opt": {"b": 2}},
        rows(),
        "val_auroc",
        "max",
        max_epochs=5,
    )
    assert row["iterations"] == 3 and row["best_iteration"] == 2
    assert row["best/val_auroc"] == 0.8 and row["final/val_auroc"] == 0.7
    assert row["best/eval/k3/noise/2/auroc"] == 0.55
    assert row["final/eval/k3/noise/2/auroc"] == 0.65
    assert row["config/lr"] == 0.1 and row["config/opt/b"] == 2
    assert row["stopped_early"] is True  # 3 of 5 epochs, not errored
    assert row["node_ip"] == "127.0.0.2,127.0.0.3"


def test_errored_trial_without_results():
    row = trial_row("t2", "ERROR", "loss became nan", {}, [], "val_auroc", "max", 5)
    assert row["iterations"] == 0 and row["best_iteration"] is None
    assert row["error"] == "loss became nan" and row["stopped_early"] is False


def test_metric_rows_long_format():
    out = metric_rows("t1", rows(), lambda s: s == "val")
    assert len(out) == 6
    noisy = [r for r in out if r["shift"] == "noise"]
    assert [r["value"] for r in noisy] == [0.5, 0.55, 0.65]
    assert all(r["severity"] == 2 and not r["in_distribution"] for r in noisy)
    assert all(r["in_distribution"] for r in out if r["eval_set"] == "val")


def test_read_trial_results_skips_a_cut_line(tmp_path):
    lines = [json.dumps(r) for r in rows()]
    (tmp_path / "result.json").write_text("\n".join(lines) + '\n{"training_iter')
    assert [r["training_iteration"] for r in read_trial_results(tmp_path)] == [1, 2, 3]


def test_iterations_repeated_after_a_restore_replace_the_earlier_rows(tmp_path):
    """A killed driver's trial resumed from the checkpoint of iteration 1 reports 2 and 3
    again; the history read back is the resumed run's."""
    first = [{"training_iteration": i, "loss": 1.0 / i} for i in (1, 2, 3)]
    again = [{"training_iteration": i, "loss": 10.0 + i} for i in (2, 3, 4)]
    (tmp_path / "result.json").write_text("\n".join(json.dumps(r) for r in first + again))
    got = read_trial_results(tmp_path)
    assert [r["training_iteration"] for r in got] == [1, 2, 3, 4]
    assert [r["loss"] for r in got] == [1.0, 12.0, 13.0, 14.0]


def test_flatten_config_lists_are_json():
    assert flatten_config({"a": [1, 2]}) == {"config/a": "[1, 2]"}


@pytest.mark.parametrize("mode,best", [("max", 2), ("min", 1)])
def test_mode(mode, best):
    row = trial_row("t", "TERMINATED", None, {}, rows(), "val_auroc", mode, 3)
    assert row["best_iteration"] == best


def test_the_ended_counter_counts_trials_that_ended_before_a_resume():
    from types import SimpleNamespace

    from study.progress import ProgressPrinter

    # a resumed study: two trials ended before the interruption, one running, one pending
    trials = [SimpleNamespace(trial_id=i, status=s) for i, s in
              [("a", "TERMINATED"), ("b", "ERROR"), ("c", "RUNNING"), ("d", "PENDING")]]
    assert ProgressPrinter._ended(trials, trials[2]) == 3
