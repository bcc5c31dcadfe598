"""StratifiedASHA: each trial is ranked only against trials of its own arm."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from study.schedulers import StratifiedASHA, creation_index, rung_milestones, stratum_of

STRATA = {"fast": {"norm_arm": "fast"}, "slow": {"norm_arm": "slow"}}


@dataclass
class FakeTrial:
    trial_id: str
    config: dict = field(default_factory=dict)
    experiment_tag: str = ""  # Tune's: "<creation number>_<config>"


class Controller:
    """The part of Tune's controller a scheduler calls: the trials, stopping one, setting a
    status."""

    def __init__(self, trials):
        self.trials, self.stopped = trials, []

    def get_trials(self):
        return self.trials

    def stop_trial(self, trial):
        self.stopped.append(trial.trial_id)
        trial.status = "TERMINATED"

    def _set_trial_status(self, trial, status):
        trial.status = status


@dataclass
class TuneTrial(FakeTrial):
    status: str = "RUNNING"


def scheduler(cls, **extra):
    kwargs = dict(time_attr="training_iteration", max_t=9, grace_period=1, reduction_factor=3)
    s = cls(STRATA, **kwargs) if cls is StratifiedASHA else cls(**kwargs)
    s.set_search_properties("score", "max")
    return s


def run_rung(s, trials_and_scores):
    """Add each trial and report its score at iteration 1 (the first rung); the decisions."""
    decisions = {}
    for trial, score in trials_and_scores:
        s.on_trial_add(None, trial)
        decisions[trial.trial_id] = s.on_trial_result(
            None, trial, {"training_iteration": 1, "score": score})
    return decisions


def trials():
    fast = [FakeTrial(f"f{i}", {"norm_arm": "fast", "lr": i}) for i in range(3)]
    slow = [FakeTrial(f"s{i}", {"norm_arm": "slow", "lr": i}) for i in range(3)]
    # the fast arm reports first and high; the slow arm's best is far below every fast trial
    return list(zip(fast, (0.90, 0.91, 0.92), strict=True)) + list(
        zip(slow, (0.50, 0.55, 0.60), strict=True))


def test_one_global_asha_stops_the_whole_slow_arm():
    decisions = run_rung(scheduler(ASHAScheduler), trials())
    assert all(decisions[f"s{i}"] == TrialScheduler.STOP for i in range(3))


def test_stratified_asha_ranks_each_arm_on_its_own():
    s = scheduler(StratifiedASHA)
    decisions = run_rung(s, trials())
    # the first trial of each arm to reach the rung always goes on; later ones must be in the
    # arm's top third, which the rising scores here are
    assert [decisions[f"s{i}"] for i in range(3)] == [TrialScheduler.CONTINUE] * 3
    assert [decisions[f"f{i}"] for i in range(3)] == [TrialScheduler.CONTINUE] * 3
    late = FakeTrial("s3", {"norm_arm": "slow"})
    assert run_rung(s, [(late, 0.52)])["s3"] == TrialScheduler.STOP  # below the slow arm's top
    assert s.stopped() == {"fast": 0, "slow": 1}


def test_trials_end_at_max_t_and_a_removed_trial_is_not_waited_for():
    s = scheduler(StratifiedASHA)
    t, later = FakeTrial("f0", {"norm_arm": "fast"}), FakeTrial("f1", {"norm_arm": "fast"})
    s.on_trial_add(None, t)
    s.on_trial_add(None, later)
    assert s.on_trial_result(None, t, {"training_iteration": 9, "score": 0.1}) == \
        TrialScheduler.STOP
    assert s.stopped() == {"fast": 0, "slow": 0}  # its horizon, not an early stop
    other = FakeTrial("f2", {"norm_arm": "fast"})
    s.on_trial_add(None, other)
    s.on_trial_remove(None, later)  # removed before it reached the first rung
    assert s.on_trial_result(None, other, {"training_iteration": 1, "score": 0.0}) == \
        TrialScheduler.CONTINUE


def test_creation_index_reads_tunes_experiment_tag():
    assert creation_index(FakeTrial("a", experiment_tag="12_lr=0.001,bs=8")) == 12
    assert creation_index(FakeTrial("a", experiment_tag="3")) == 3
    assert creation_index(FakeTrial("a", experiment_tag="")) is None
    assert creation_index(FakeTrial("a", experiment_tag="lr=0.1")) is None


def test_rung_milestones():
    assert rung_milestones(1, 3, 9) == [1, 3]
    assert rung_milestones(2, 2, 4) == [2]
    assert rung_milestones(2, 2, 20) == [2, 4, 8, 16]
    with pytest.raises(ValueError, match="reduction_factor"):
        rung_milestones(1, 1, 9)


def test_stratum_of():
    assert stratum_of({"norm_arm": "slow", "lr": 1}, STRATA) == "slow"
    with pytest.raises(ValueError, match="matches none of the strata"):
        stratum_of({"norm_arm": "other"}, STRATA)


def test_confirm_trials_are_never_stopped_and_stay_out_of_the_rungs():
    s = scheduler(StratifiedASHA)
    search = [FakeTrial(f"f{i}", {"norm_arm": "fast", "arm": "fast"}) for i in range(3)]
    confirm = FakeTrial("c0", {"norm_arm": "fast", "arm": "fast", "phase": "confirm"})
    s.on_trial_add(None, confirm)
    assert s.on_trial_result(None, confirm, {"training_iteration": 1, "score": -99.0}) == \
        TrialScheduler.CONTINUE
    decisions = run_rung(s, [(t, 0.1 * i) for i, t in enumerate(search)])
    # the weak confirm result did not lower the rung: the same cut as without it
    assert decisions == run_rung(scheduler(StratifiedASHA),
                                 [(t, 0.1 * i) for i, t in enumerate(search)])


def test_stratum_of_prefers_the_stamped_arm():
    assert stratum_of({"arm": "slow", "norm_arm": "fast"}, STRATA) == "slow"
    assert stratum_of({"norm_arm": "fast"}, STRATA) == "fast"


def test_a_resumed_scheduler_decides_as_an_uninterrupted_one(tmp_path):
    """Tune saves no scheduler state (ray-project/ray#30838): StratifiedASHA keeps its own.
    Interrupt after half the results, restore a fresh scheduler from the state file, feed the
    rest: every decision matches an uninterrupted scheduler fed the same results."""
    rng = np.random.default_rng(0)
    arms = ("fast", "slow")
    feed = []
    for i in range(8):
        trial = FakeTrial(f"t{i}", {"norm_arm": arms[i % 2]}, f"{i}_lr={i}")
        for epoch in (1, 3, 9):
            feed.append((trial, {"epoch": epoch, "training_iteration": 1,  # restarts: unused
                                 "score": float(rng.random())}))

    def make(state=None):
        s = StratifiedASHA(STRATA, state_path=state, time_attr="epoch", max_t=9,
                           grace_period=1, reduction_factor=3)
        s.set_search_properties("score", "max")
        return s

    def run(s, items, added):
        out = []
        for trial, result in items:
            if trial.trial_id not in added:
                s.on_trial_add(None, trial)
                added.add(trial.trial_id)
            out.append(s.on_trial_result(None, trial, result))
        return out

    whole = run(make(), feed, set())
    state = str(tmp_path / "scheduler_state.json")
    half = len(feed) // 2
    first = run(make(state), feed[:half], set())
    resumed = make(state)  # a new process: nothing but the state file
    # the restored trials are added again, and one already stopped reports again
    second = run(resumed, feed[half:], set())
    assert first + second == whole
    assert TrialScheduler.STOP in whole
    assert set(json.loads(open(state).read())["stopped"]) == {
        t.trial_id for (t, r), d in zip(feed, whole, strict=True)
        if d == TrialScheduler.STOP and r["epoch"] < 9}
    stopped = next(t for (t, r), d in zip(feed, whole, strict=True)
                   if d == TrialScheduler.STOP and r["epoch"] < 9)  # at max_t is not early
    again = make(state)
    again.on_trial_add(None, stopped)
    assert again.on_trial_result(None, stopped, {"epoch": 1, "score": 1.0}) == \
        TrialScheduler.STOP


def test_a_trial_stopped_before_the_interruption_is_ended_before_it_runs_again(tmp_path):
    """Tune's snapshot of the experiment can predate an ASHA stop by seconds: the restored
    trial comes back PENDING. The restored scheduler ends it instead of handing it out."""
    state = tmp_path / "scheduler_state.json"
    kwargs = dict(time_attr="epoch", max_t=9, grace_period=1, reduction_factor=3)
    saved = StratifiedASHA(STRATA, **kwargs).state()
    state.write_text(json.dumps({**saved, "stopped": ["f0"]}))

    s = StratifiedASHA(STRATA, state_path=str(state), **kwargs)
    stopped_one = TuneTrial("f0", {"norm_arm": "fast"}, status="PENDING")
    other = TuneTrial("f1", {"norm_arm": "fast"}, status="PENDING")
    controller = Controller([stopped_one, other])
    assert s.choose_trial_to_run(controller) is other
    assert controller.stopped == ["f0"]
    assert s.choose_trial_to_run(controller) is other  # idempotent, as Tune requires
    assert controller.stopped == ["f0"]


def arrive_at_first_rung(order: tuple[int, ...], values: list[float]) -> dict[str, str]:
    """Trials created 0, 1, 2, ... reach the first rung in ``order``; paused ones are resumed
    or stopped through ``choose_trial_to_run`` as Tune would. Each trial's final decision."""
    s = StratifiedASHA(STRATA, time_attr="epoch", max_t=9, grace_period=1, reduction_factor=2)
    s.set_search_properties("score", "max")
    trials = [TuneTrial(f"f{i}", {"norm_arm": "fast"}, f"{i}_lr={i}") for i in range(len(values))]
    controller = Controller(trials)
    for t in trials:
        s.on_trial_add(controller, t)
    final = {}
    for i in order:
        decision = s.on_trial_result(controller, trials[i], {"epoch": 1, "score": values[i]})
        if decision == TrialScheduler.PAUSE:
            trials[i].status = "PAUSED"
        else:
            final[trials[i].trial_id] = decision
        while (chosen := s.choose_trial_to_run(controller)) is not None:
            final[chosen.trial_id] = TrialScheduler.CONTINUE
            chosen.status = "RUNNING"
    for tid in controller.stopped:
        final[tid] = TrialScheduler.STOP
    return final


def test_rung_decisions_do_not_depend_on_the_order_trials_arrive_in():
    """Plain ASHA decides a trial against the values already at the rung, so which of two
    trials side by side gets stopped depends on timing (mixture_sweep: the same two values,
    opposite picks in two runs). Here every arrival order gives creation order's decisions."""
    from itertools import permutations

    values = [0.7245, 0.7284, 0.60, 0.75]
    expected = arrive_at_first_rung((0, 1, 2, 3), values)
    # created first goes on; 0.7284 >= 0.7245 goes on; 0.60 is below the median; 0.75 is not
    assert expected == {"f0": "CONTINUE", "f1": "CONTINUE", "f2": "STOP", "f3": "CONTINUE"}
    for order in permutations(range(4)):
        assert arrive_at_first_rung(order, values) == expected, order
    plain = [scheduler(ASHAScheduler) for _ in range(2)]
    pair = [FakeTrial("a", {}), FakeTrial("b", {})]
    one = run_rung(plain[0], list(zip(pair, (0.7284, 0.7245), strict=True)))
    other = run_rung(plain[1], list(zip(pair[::-1], (0.7245, 0.7284), strict=True)))
    assert one != other  # what this scheduler is for


def test_the_earliest_trial_never_waits_and_a_later_one_waits_only_for_earlier_ones():
    s = StratifiedASHA(STRATA, time_attr="epoch", max_t=9, grace_period=1, reduction_factor=2)
    s.set_search_properties("score", "max")
    trials = [TuneTrial(f"f{i}", {"norm_arm": "fast"}, f"{i}_x") for i in range(3)]
    slow = TuneTrial("s0", {"norm_arm": "slow"}, "3_x")  # another arm: never waited for
    for t in [*trials, slow]:
        s.on_trial_add(None, t)
    assert s.on_trial_result(None, trials[2], {"epoch": 1, "score": 0.9}) == "PAUSE"
    assert s.on_trial_result(None, trials[0], {"epoch": 1, "score": 0.1}) == "CONTINUE"
    assert s.on_trial_result(None, trials[1], {"epoch": 1, "score": 0.0}) == "STOP"
    trials[2].status = "PAUSED"
    assert s.choose_trial_to_run(Controller([*trials, slow])) is trials[2]
    assert s.stopped() == {"fast": 1, "slow": 0}


def test_waits_and_resumes_are_announced():
    said = []
    s = StratifiedASHA(STRATA, time_attr="epoch", max_t=9, grace_period=1, reduction_factor=2,
                       announce=lambda tid, config, message: said.append((tid, message)))
    s.set_search_properties("score", "max")
    early, late = (TuneTrial(f"f{i}", {"norm_arm": "fast"}, f"{i}_x") for i in range(2))
    for t in (early, late):
        s.on_trial_add(None, t)
    s.on_trial_result(None, late, {"epoch": 1, "score": 0.9})
    s.on_trial_result(None, early, {"epoch": 1, "score": 0.1})
    late.status = "PAUSED"
    s.choose_trial_to_run(Controller([early, late]))
    assert said == [("f1", "waits at epoch 1 for earlier trials of its arm"),
                    ("f1", "goes on: at or above the rung's cut")]


def test_a_trial_waiting_at_an_interruption_waits_again_after_the_resume(tmp_path):
    """Tune restores a paused trial as PENDING and would start it: a trial still waiting is
    paused again before it trains another epoch, then decided on the rung's values."""
    state = str(tmp_path / "scheduler_state.json")

    def make():
        s = StratifiedASHA(STRATA, state_path=state, time_attr="epoch", max_t=9,
                           grace_period=1, reduction_factor=2)
        s.set_search_properties("score", "max")
        return s

    early, late = (TuneTrial(f"f{i}", {"norm_arm": "fast"}, f"{i}_x") for i in range(2))
    first = make()
    for t in (early, late):
        first.on_trial_add(None, t)
    assert first.on_trial_result(None, late, {"epoch": 1, "score": 0.2}) == "PAUSE"
    resumed = make()  # a new process: the trials come back PENDING
    early.status = late.status = "PENDING"
    for t in (late, early):  # Tune re-adds them latest result first
        resumed.on_trial_add(None, t)
    assert resumed.choose_trial_to_run(Controller([late, early])) is early
    assert (early.status, late.status) == ("PENDING", "PAUSED")
    early.status = "RUNNING"
    assert resumed.on_trial_result(None, early, {"epoch": 1, "score": 0.5}) == "CONTINUE"
    controller = Controller([early, late])
    assert resumed.choose_trial_to_run(controller) is None and controller.stopped == ["f1"]
    assert json.loads(open(state).read())["stopped"] == ["f1"]
