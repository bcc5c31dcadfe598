"""The study notebooks: committed as generated (no outputs), run top to bottom against
constructed experiments, draw in the cells that draw, and compute the analysis package's
numbers: a cell appended at run time pickles the notebook's variables, which must equal what
the package's functions return on the same tables."""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from analysis.answer import answer, confirmed
from analysis.embeddings import resolve_encoder
from analysis.experiment import load_experiment
from analysis.mixtures import pathology
from analysis.robustness import effective_robustness, overfitting_table, training_curves
from analysis.similarity import similarity_correlations, train_test_similarity
from analysis.stats import DEFAULT_BOOTSTRAP

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "analysis" / "notebooks"
NAMES = ("normalization.ipynb", "mixtures.ipynb")
FIGURE, WORKED = "figure", "worked-example"

pytestmark = pytest.mark.slow


def builder() -> ModuleType:
    """``analysis/notebooks/build_notebooks.py`` as a module (the folder is no package)."""
    spec = importlib.util.spec_from_file_location("build_notebooks",
                                                  NOTEBOOKS / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_notebook(name: str, experiment: Path, cache: Path, dump: Path,
                 variables: tuple[str, ...]) -> tuple[nbformat.NotebookNode, dict]:
    """Execute a notebook with ``EXPERIMENT_DIR`` set, as its parameters cell reads it, then
    return it with its ``variables`` (pickled by a cell appended here)."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    notebook.cells.append(new_code_cell(
        f"import pickle\nwith open({str(dump)!r}, 'wb') as handle:\n"
        f"    pickle.dump({{k: globals()[k] for k in {list(variables)!r}}}, handle)"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPERIMENT_DIR", str(experiment))
        mp.setenv("MRI_STUDY_CACHE", str(cache))  # the tests' own embedding cache
        mp.delenv("MRI_STUDY_CLIP", raising=False)
        # the kernel must import this checkout's packages with this interpreter's libraries
        mp.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT)}})
        client.execute()
    return notebook, pickle.loads(dump.read_bytes())


def output_text(notebook: nbformat.NotebookNode) -> str:
    """Printed text and the text of every displayed value."""
    text = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            text.append(str(out.get("text", "")))
            text.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(text)


def tagged(notebook: nbformat.NotebookNode, tag: str) -> list:
    """Code cells carrying ``tag``."""
    return [c for c in notebook.cells
            if c.cell_type == "code" and tag in c.metadata.get("tags", [])]


def assert_draws(notebook: nbformat.NotebookNode) -> None:
    """Every cell tagged ``figure`` displayed a PNG image."""
    cells = tagged(notebook, FIGURE)
    assert cells
    for cell in cells:
        kinds = {k for out in cell.outputs for k in out.get("data", {})}
        assert "image/png" in kinds, cell.source


def same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal frames, row order and index aside."""
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


@pytest.fixture(scope="module")
def normalization(diagnosis_dir, analysis_cache, tmp_path_factory):
    return run_notebook("normalization.ipynb", diagnosis_dir, analysis_cache,
                        tmp_path_factory.mktemp("nb") / "normalization.pkl",
                        ("headline", "validity", "arm_gaps", "severity_gaps", "er", "peaks",
                         "finding_gaps", "SHIFT", "SEVERITY"))


@pytest.fixture(scope="module")
def mixtures(recon_dir, analysis_cache, tmp_path_factory):
    return run_notebook("mixtures.ipynb", recon_dir, analysis_cache,
                        tmp_path_factory.mktemp("nb") / "mixtures.pkl",
                        ("headline", "validity", "arm_scores", "pairs", "lesions", "ANATOMY",
                         "subset_correlations", "subset_seeded"))


# ------------------------------------------------------------------ the committed files
@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_generated_and_stripped(name):
    text = (NOTEBOOKS / name).read_text(encoding="utf8")
    generated = nbformat.writes(builder().build(name))
    expected = generated if generated.endswith("\n") else generated + "\n"  # as nbformat.write
    assert text == expected, "rebuild with: python analysis/notebooks/build_notebooks.py"
    code = [c for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_cell_is_tagged(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    params = tagged(notebook, "parameters")
    assert len(params) == 1 and 'os.environ.get("EXPERIMENT_DIR"' in params[0].source
    assert notebook.cells.index(params[0]) == 1  # right after the title, as papermill expects


@pytest.mark.parametrize("name", NAMES)
def test_cells_compute_rather_than_show_report_sections(name):
    source = "\n".join(c.source for c in nbformat.read(NOTEBOOKS / name, as_version=4).cells)
    assert "from analysis.notebook import" not in source and "show(ctx" not in source
    assert "SECTION_BUILDERS" not in source and "report_context" not in source
    assert "load_experiment(EXPERIMENT_DIR)" in source
    assert tagged(nbformat.read(NOTEBOOKS / name, as_version=4), WORKED)


# ------------------------------------------------------------------ normalization
def test_normalization_notebook_draws(normalization):
    notebook, _ = normalization
    assert_draws(notebook)
    assert "batch - group, ood gap over all targets" in output_text(notebook)


def test_normalization_numbers_are_the_reports(normalization, diagnosis_dir):
    _, got = normalization
    exp = load_experiment(diagnosis_dir)
    expected = answer(exp, DEFAULT_BOOTSTRAP)
    same(got["headline"], expected.headline)
    same(got["validity"], expected.validity)
    same(got["arm_gaps"], expected.arm_gaps)
    same(got["severity_gaps"].drop(columns="target"), expected.severity_gaps)
    er = effective_robustness(confirmed(exp), "best", settings=DEFAULT_BOOTSTRAP)
    same(got["er"].per_group, er.per_group)
    same(got["peaks"], overfitting_table(training_curves(confirmed(exp)), exp.main_metric))


def test_normalization_worked_example(normalization):
    _, got = normalization
    table, shift, severity = got["finding_gaps"], got["SHIFT"], got["SEVERITY"]
    # the constructed predictions have one finding: its gap is the study's gap in that cell
    assert list(table["finding"].unique()) == ["acl"] and (shift, severity) == ("noise", 3)
    cells = got["severity_gaps"]
    cell = cells[(cells["shift"] == shift) & (cells["severity"] == severity)]
    columns = ["arm", "estimate", "ci_low", "ci_high", "n_seeds"]
    same(table[columns], cell[columns])
    gap = table.set_index("arm")["estimate"]
    assert gap["batch"] > gap["group"]  # constructed: batch loses 5x the signal of group


# ------------------------------------------------------------------ mixtures
def test_mixtures_notebook_draws(mixtures):
    notebook, _ = mixtures
    assert_draws(notebook)
    text = output_text(notebook)
    assert "weight-free" in text and "mixtures - separate" in text


def test_mixture_numbers_are_the_reports(mixtures, recon_dir):
    _, got = mixtures
    exp = load_experiment(recon_dir)
    expected = answer(exp, DEFAULT_BOOTSTRAP)
    same(got["headline"], expected.headline)
    same(got["validity"], expected.validity)
    same(got["arm_scores"], expected.arm_scores)
    similarity = train_test_similarity(confirmed(exp), exp.info.data_dir, resolve_encoder(),
                                       "best", settings=DEFAULT_BOOTSTRAP)
    same(got["pairs"], similarity.pairs)
    same(got["lesions"].table, pathology(exp, "best", settings=DEFAULT_BOOTSTRAP).table)


def test_mixtures_worked_example(mixtures):
    _, got = mixtures
    pairs, table = got["pairs"], got["subset_correlations"]
    knee = pairs[pairs["test_set"].str.startswith(got["ANATOMY"] + "_")]
    assert 0 < len(knee) < len(pairs)
    subset = table[table["targets"] == "knee test sets"].drop(columns="targets")
    same(subset, similarity_correlations(knee, DEFAULT_BOOTSTRAP))
    everything = table[table["targets"] == "all test sets"].drop(columns="targets")
    same(everything, similarity_correlations(pairs, DEFAULT_BOOTSTRAP))
    assert set(got["subset_seeded"]["statistic"]) == {"pearson", "spearman"}
    assert (got["subset_seeded"]["n_pairs"] == (~knee["in_mixture"]).sum()).all()


def test_kernel_uses_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in ("python", sys.executable) or Path(spec.argv[0]).resolve() == Path(
        sys.executable).resolve()

