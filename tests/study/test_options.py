"""Checks the launcher makes before Ray starts that need no data: a resume against the
experiment it continues."""

from __future__ import annotations

import json

import pytest

from study.experiment_format import STUDY_JSON
from study.options import LaunchError, check_same_experiment


@pytest.fixture
def experiment(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = tmp_path / "exp"
    path.mkdir()
    (path / STUDY_JSON).write_text(json.dumps({"arms": ["batch", "group"],
                                                "data_dir": str(data)}))
    return path, data


def test_resume_on_the_same_data_and_arms_is_accepted(experiment):
    path, data = experiment
    check_same_experiment(str(path), data, ["batch", "group"])


def test_resume_on_other_data_is_refused_naming_the_started_data(experiment, tmp_path):
    path, data = experiment
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(LaunchError, match=f"started on the data in {data}.*pass --data {data}"):
        check_same_experiment(str(path), other, ["batch", "group"])


def test_resume_with_other_arms_is_refused(experiment):
    path, data = experiment
    with pytest.raises(LaunchError, match="started with the arms batch group"):
        check_same_experiment(str(path), data, ["batch"])
