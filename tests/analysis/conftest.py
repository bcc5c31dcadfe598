"""Constructed experiment directories and an isolated cache for the analysis tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from analysis_fixtures import write_diagnosis_experiment, write_recon_experiment


@pytest.fixture(scope="session")
def analysis_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache root of its own, so embedding caches never touch the user's."""
    return tmp_path_factory.mktemp("analysis_cache")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, analysis_cache: Path) -> None:
    monkeypatch.setenv("MRI_STUDY_CACHE", str(analysis_cache))
    monkeypatch.delenv("MRI_STUDY_CLIP", raising=False)


@pytest.fixture(scope="session")
def diagnosis_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The constructed normalization study (3 arms x 2 trials x 4 iterations + an error)."""
    return write_diagnosis_experiment(tmp_path_factory.mktemp("diag") / "constructed_norm")


@pytest.fixture(scope="session")
def recon_dir(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> Path:
    """The constructed mixture study over the tiny synthetic data."""
    return write_recon_experiment(tmp_path_factory.mktemp("recon") / "constructed_mix",
                                  tiny_data_dir)
