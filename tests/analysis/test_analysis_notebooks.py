"""The study notebooks run top to bottom against constructed experiments."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "analysis" / "notebooks"

pytestmark = pytest.mark.slow


def run_notebook(name: str, experiment: Path, monkeypatch) -> nbformat.NotebookNode:
    """Execute a notebook with ``EXPERIMENT_DIR`` set, as the notebook's parameter reads it."""
    monkeypatch.setenv("EXPERIMENT_DIR", str(experiment))
    # the kernel must import this checkout's packages with this interpreter's libraries
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> tuple[set[str], str]:
    """Output MIME types and the text of every output."""
    kinds, text = set(), []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            kinds |= set(out.get("data", {}))
            text.append(str(out.get("data", {}).get("text/markdown", "")))
            text.append(str(out.get("text", "")))
    return kinds, "\n".join(text)


def test_parameters_cell_is_tagged():
    for name in ("normalization.ipynb", "mixtures.ipynb"):
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and 'os.environ.get("EXPERIMENT_DIR"' in tagged[0].source


def test_normalization_notebook_runs(diagnosis_dir, monkeypatch):
    notebook = run_notebook("normalization.ipynb", diagnosis_dir, monkeypatch)
    kinds, text = outputs(notebook)
    assert "image/png" in kinds and "text/html" in kinds
    assert "batch - group, ood gap over all targets" in text


def test_mixtures_notebook_runs(recon_dir, monkeypatch):
    notebook = run_notebook("mixtures.ipynb", recon_dir, monkeypatch)
    kinds, text = outputs(notebook)
    assert "image/png" in kinds
    assert "weight-free" in text and "mixtures - separate" in text


def test_kernel_uses_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in ("python", sys.executable) or Path(spec.argv[0]).resolve() == Path(
        sys.executable).resolve()
