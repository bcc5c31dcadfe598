from collections import Counter

from ray import tune

from study.searchers import StratifiedSearcher

STRATA = {"x": {"arm": "x", "k": 1}, "y": {"arm": "y", "k": 2}, "z": {"arm": "z", "k": 3}}
SPACE = {"lr": tune.loguniform(1e-4, 1e-1), "bs": tune.choice([8, 16]), "fixed": 7}


def make() -> StratifiedSearcher:
    s = StratifiedSearcher(STRATA, seed=3)
    s.set_search_properties("score", "max", SPACE)
    return s


def test_every_stratum_gets_the_same_number_of_trials():
    s = make()
    configs = [s.suggest(f"t{i}") for i in range(9)]
    assert Counter(c["arm"] for c in configs) == {"x": 3, "y": 3, "z": 3}
    for c in configs:
        assert c["k"] == STRATA[c["arm"]]["k"]
        assert 1e-4 <= c["lr"] <= 1e-1 and c["bs"] in (8, 16)


def test_results_go_to_the_stratum_that_proposed_the_trial():
    s = make()
    for i in range(6):
        config = s.suggest(f"t{i}")
        s.on_trial_complete(f"t{i}", {"score": 1.0 if config["arm"] == "x" else 0.0})
    studies = {name: sub._ot_study for name, sub in s._searchers.items()}
    assert [t.value for t in studies["x"].trials] == [1.0, 1.0]
    assert [t.value for t in studies["y"].trials] == [0.0, 0.0]


def journaled(tmp_path, **kwargs) -> StratifiedSearcher:
    """A searcher as the launcher builds it: Optuna studies in the experiment's journal."""
    s = StratifiedSearcher(STRATA, seed=3, journal=tmp_path / "optuna.journal", **kwargs)
    s.set_search_properties("score", "max", SPACE)
    return s


def restored(tmp_path, state, **kwargs) -> StratifiedSearcher:
    """As Tune resumes: the searcher of the pickled Tuner, built before its search space was
    set (Tune does not set it again), then its saved state restored."""
    s = StratifiedSearcher(STRATA, seed=99, journal=tmp_path / "optuna.journal", **kwargs)
    s.restore(str(state))
    return s


def test_save_and_restore_continue_the_same_sequence(tmp_path):
    """A resumed searcher proposes what an uninterrupted one would have."""
    whole = journaled(tmp_path / "whole")
    interrupted = journaled(tmp_path / "run")
    for s in (whole, interrupted):
        for i in range(4):
            s.suggest(f"t{i}")
            s.on_trial_complete(f"t{i}", {"score": float(i), "training_iteration": 1})
    interrupted.save(str(tmp_path / "state.json"))
    resumed = restored(tmp_path / "run", tmp_path / "state.json")
    assert resumed.suggested_per_stratum == whole.suggested_per_stratum
    assert [resumed.suggest(f"t{i}") for i in range(4, 9)] == [
        whole.suggest(f"t{i}") for i in range(4, 9)]


def test_the_journal_holds_each_arms_search_for_optuna(tmp_path):
    """One Optuna study per arm, named after it: parameters, the objective at every epoch
    and the last; a trial running at the interruption reports on to its Optuna trial after
    the resume, and one asked after the last snapshot is marked failed."""
    import optuna

    from study.searchers import journal_storage

    a = journaled(tmp_path)
    configs = {f"t{i}": a.suggest(f"t{i}") for i in range(3)}  # one per arm
    for epoch in (1, 2):
        a.on_trial_result("t0", {"score": 0.5 * epoch, "training_iteration": epoch})
    a.on_trial_complete("t0", {"score": 1.0, "training_iteration": 2})
    a.on_trial_result("t1", {"score": 0.3, "training_iteration": 1})
    a.save(str(tmp_path / "state.json"))
    a.suggest("t3")  # asked, then the driver dies before the next snapshot

    b = restored(tmp_path, tmp_path / "state.json")
    b.on_trial_result("t1", {"score": 0.4, "training_iteration": 2})
    b.on_trial_complete("t1", {"score": 0.4, "training_iteration": 2})

    storage = journal_storage(tmp_path / "optuna.journal")
    x = optuna.load_study(study_name="x", storage=storage).trials
    assert x[0].params == {k: configs["t0"][k] for k in ("lr", "bs")}
    assert x[0].intermediate_values == {1: 0.5, 2: 1.0} and x[0].value == 1.0
    assert [t.state for t in x] == [optuna.trial.TrialState.COMPLETE,
                                    optuna.trial.TrialState.FAIL]  # t3, the orphan
    y = optuna.load_study(study_name="y", storage=storage).trials
    assert len(y) == 1 and y[0].intermediate_values == {1: 0.3, 2: 0.4} and y[0].value == 0.4
    assert configs["t1"]["arm"] == "y"


def test_seeded_searchers_repeat():
    assert [make().suggest(f"t{i}") for i in range(3)] == [
        make().suggest(f"t{i}") for i in range(3)
    ]


# --- search, then confirm ---------------------------------------------------------------
def confirming(search_trials=2, confirm_seeds=3) -> StratifiedSearcher:
    s = StratifiedSearcher(STRATA, seed=5, search_trials=search_trials,
                           confirm_seeds=confirm_seeds)
    s.set_search_properties("score", "max", SPACE)
    return s


def test_confirm_trials_retrain_each_arms_best_search_config_with_new_seeds():
    s = confirming()
    search = {f"t{i}": s.suggest(f"t{i}") for i in range(6)}
    assert {c["phase"] for c in search.values()} == {"search"}
    assert s.suggest("early") is None  # no arm has ended its search: wait
    for tid, config in search.items():  # intermediate results count: the best value reached
        s.on_trial_result(tid, {"score": config["lr"] * 100, "training_iteration": 1})
        s.on_trial_complete(tid, {"score": 0.0})
    confirm = [s.suggest(f"c{i}") for i in range(9)]
    assert all(c["phase"] == "confirm" for c in confirm)
    assert Counter(c["arm"] for c in confirm) == {"x": 3, "y": 3, "z": 3}
    for arm in STRATA:
        mine = [c for c in confirm if c["arm"] == arm]
        best = max((c for c in search.values() if c["arm"] == arm), key=lambda c: c["lr"])
        assert {c["seed"] for c in mine} == {1005, 1006, 1007}  # seed 5 + 1000 + j
        for c in mine:
            assert {k: v for k, v in c.items() if k not in ("phase", "seed")} == {
                k: v for k, v in best.items() if k != "phase"}
    assert s.suggest("done") == s.FINISHED and s.is_finished()


def test_search_and_confirm_trials_carry_their_phases_horizon():
    s = StratifiedSearcher(STRATA, seed=5, search_trials=1, confirm_seeds=1,
                           epochs={"search": 2, "confirm": 7})
    s.set_search_properties("score", "max", SPACE)
    search = {f"t{i}": s.suggest(f"t{i}") for i in range(3)}
    assert {c["max_epochs"] for c in search.values()} == {2}
    for tid in search:
        s.on_trial_complete(tid, {"score": 0.5, "training_iteration": 2})
    confirm = [s.suggest(f"c{i}") for i in range(3)]
    assert [c["phase"] for c in confirm] == ["confirm"] * 3
    assert {c["max_epochs"] for c in confirm} == {7}
    # without ``epochs`` the searcher leaves the horizon to the param space
    assert "max_epochs" not in confirming().suggest("u")


def test_an_arm_is_confirmed_as_soon_as_its_own_search_ends_and_search_trials_go_first():
    s = confirming(search_trials=1, confirm_seeds=2)
    configs = {f"t{i}": s.suggest(f"t{i}") for i in range(3)}
    x = next(t for t, c in configs.items() if c["arm"] == "x")
    s.on_trial_complete(x, {"score": 0.7})
    nxt = s.suggest("c0")
    assert (nxt["arm"], nxt["phase"]) == ("x", "confirm")
    # with search trials still to hand out, they come before any arm's confirm trials
    s = confirming(search_trials=2, confirm_seeds=2)
    first = {f"t{i}": s.suggest(f"t{i}") for i in range(3)}
    for t in first:
        s.on_trial_complete(t, {"score": 0.7})
    assert [s.suggest(f"u{i}")["phase"] for i in range(3)] == ["search"] * 3


def test_an_arm_whose_search_trials_all_failed_is_not_confirmed():
    s = confirming(search_trials=1, confirm_seeds=2)
    configs = {f"t{i}": s.suggest(f"t{i}") for i in range(3)}
    for tid, config in configs.items():
        s.on_trial_complete(tid, None if config["arm"] == "y" else {"score": 0.5},
                            error=config["arm"] == "y")
    arms = Counter(s.suggest(f"c{i}")["arm"] for i in range(4))
    assert arms == {"x": 2, "z": 2}
    assert s.suggest("more") == s.FINISHED


def test_confirm_state_survives_save_and_restore(tmp_path):
    a = journaled(tmp_path, search_trials=1, confirm_seeds=2)
    for tid in [f"t{i}" for i in range(3) if a.suggest(f"t{i}")]:
        a.on_trial_complete(tid, {"score": 1.0})
    a.suggest("c0")
    a.save(str(tmp_path / "state.json"))
    b = restored(tmp_path, tmp_path / "state.json", search_trials=1, confirm_seeds=2)
    assert b.suggest("c1") == a.suggest("c1")


def test_tuning_one_arm_confirms_every_arm_with_its_configuration():
    s = StratifiedSearcher(STRATA, seed=2, search_trials=2, confirm_seeds=2, tune_on="y")
    s.set_search_properties("score", "max", SPACE)
    search = {f"t{i}": s.suggest(f"t{i}") for i in range(2)}
    assert {c["arm"] for c in search.values()} == {"y"} and s.suggest("wait") is None
    for tid, config in search.items():
        s.on_trial_complete(tid, {"score": config["lr"]})
    best = max(search.values(), key=lambda c: c["lr"])
    confirm = [s.suggest(f"c{i}") for i in range(6)]
    assert Counter(c["arm"] for c in confirm) == {"x": 2, "y": 2, "z": 2}
    for c in confirm:  # the tuned values of y's best trial, each arm's own fixed values
        assert (c["lr"], c["bs"]) == (best["lr"], best["bs"])
        assert c["k"] == STRATA[c["arm"]]["k"] and c["phase"] == "confirm"
    assert s.suggest("end") == s.FINISHED


def test_a_trial_stopped_while_paused_ends_its_optuna_trial_with_its_last_value(tmp_path):
    """Tune hands no result when it stops a paused trial (the rung decisions of
    study.schedulers): the Optuna trial still ends COMPLETE with the trial's last value, as
    for a trial stopped while running, also after a save and restore in between."""
    s = journaled(tmp_path)
    s.suggest("t0")
    s.on_trial_result("t0", {"score": 0.4, "training_iteration": 1})
    s.on_trial_result("t0", {"score": 0.3, "training_iteration": 2})
    s.save(str(tmp_path / "state.json"))
    resumed = restored(tmp_path, tmp_path / "state.json")
    resumed.on_trial_complete("t0")
    trial = resumed._searchers["x"]._ot_study.trials[0]
    assert trial.state.name == "COMPLETE" and trial.value == 0.3
    assert trial.intermediate_values == {1: 0.4, 2: 0.3}
    assert resumed._best["t0"] == 0.4
