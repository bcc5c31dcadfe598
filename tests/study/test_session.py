"""One launcher per experiment, and the resume command of an interrupted one."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from study.session import LOCK_FILE, Busy, experiment_lock, resume_command


def _hold(path: str, ready, release) -> None:
    with experiment_lock(path):
        ready.set()
        release.wait(30)


def test_a_second_launcher_on_the_same_experiment_is_refused(tmp_path):
    path = str(tmp_path / "exp")
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        before = sorted(p.name for p in (tmp_path / "exp").iterdir())
        with pytest.raises(Busy, match=r"in use by another launcher \(pid \d+ on "):
            with experiment_lock(path):
                pass
        assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == before  # wrote nothing
    finally:
        release.set()
        holder.join(30)
    with experiment_lock(path):  # free again once the first has ended
        pass


def test_a_launch_that_wrote_nothing_leaves_no_folder(tmp_path):
    with experiment_lock(str(tmp_path / "new")):
        assert (tmp_path / "new" / LOCK_FILE).is_file()
    assert not (tmp_path / "new").exists()
    with experiment_lock(str(tmp_path / "kept")):
        (tmp_path / "kept" / "study.json").write_text("{}")
    assert (tmp_path / "kept" / "study.json").is_file()


def test_resume_command_repeats_the_arguments_once():
    command = resume_command(["smoke", "--storage", "/tmp/s", "--name", "t"])
    assert command.endswith("-m study.launch smoke --storage /tmp/s --name t --resume")
    assert resume_command(["smoke", "--resume"]).count("--resume") == 1
