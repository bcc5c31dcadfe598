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


def test_save_and_restore_continue_the_same_sequence(tmp_path):
    a = make()
    for i in range(4):
        a.suggest(f"t{i}")
        a.on_trial_complete(f"t{i}", {"score": float(i)})
    a.save(str(tmp_path / "state.pkl"))
    b = StratifiedSearcher(STRATA, seed=99)
    b.restore(str(tmp_path / "state.pkl"))
    assert b.suggested_per_stratum == a.suggested_per_stratum
    assert b.suggest("t4") == a.suggest("t4")


def test_seeded_searchers_repeat():
    assert [make().suggest(f"t{i}") for i in range(3)] == [
        make().suggest(f"t{i}") for i in range(3)
    ]
