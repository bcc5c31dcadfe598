"""Shared fixtures: the tiny synthetic dataset, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of fastMRI-format files from the tiny synthetic preset (seed 0)."""
    from mri.synth import generate

    return generate(tmp_path_factory.mktemp("tiny_data"), preset="tiny", seed=0)
