"""Runs of the launcher in a subprocess, on the tiny synthetic data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def launch(*args: str, cache: Path, timeout: int = 600, **popen) -> subprocess.CompletedProcess:
    env = {**os.environ, "MRI_STUDY_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "study.launch", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


@pytest.fixture(scope="session")
def launcher():
    """``launch(*args, cache=..., timeout=...)``: run ``python -m study.launch`` in a subprocess."""
    return launch


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def study_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("study_cache")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, study_cache):
    """The smoke study, run once for every test that reads its output."""
    storage = tmp_path_factory.mktemp("smoke_runs")
    result = launch("smoke", "--storage", str(storage), cache=study_cache)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    path = storage / "smoke"
    return {
        "result": result,
        "path": path,
        "trials": pd.read_parquet(path / "trials.parquet"),
        "metrics": pd.read_parquet(path / "metrics.parquet"),
    }



@pytest.fixture(scope="session")
def notebook_on():
    """Execute ``analysis/notebooks/<name>`` top to bottom on an experiment, as a researcher
    opens it (``EXPERIMENT_DIR`` set); returns the executed notebook and its PNG count."""
    import nbformat
    from nbclient import NotebookClient

    def run(name: str, experiment: Path, cache: Path):
        notebook = nbformat.read(ROOT / "analysis" / "notebooks" / name, as_version=4)
        env = {"EXPERIMENT_DIR": str(experiment), "MRI_STUDY_CACHE": str(cache),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            mp.delenv("MRI_STUDY_CLIP", raising=False)
            NotebookClient(notebook, timeout=300, kernel_name="python3",
                           resources={"metadata": {"path": str(ROOT)}}).execute()
        images = sum("image/png" in out.get("data", {})
                     for cell in notebook.cells for out in cell.get("outputs", []))
        return notebook, images

    return run
