"""Write the study notebooks: ``python analysis/notebooks/build_notebooks.py``.

The cells are in ``notebook_cells.py``, the pieces they share in ``cells.py``.

Each notebook takes its experiment path from a cell tagged ``parameters`` (papermill's
convention) whose default reads the ``EXPERIMENT_DIR`` environment variable, loads the
experiment's tables into pandas, and computes every table and figure in its own cells with the
``analysis`` package's public functions (the ones the report calls, with the report's
arguments), so a researcher can change an argument and re-run one cell. Cells that draw carry
the tag ``figure``, the worked example's cells the tag ``worked-example`` (the tests check
both). The notebooks are written without outputs and with fixed cell ids, so a rebuild of
unchanged sources gives identical files.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis.notebooks.cells import Cell
from analysis.notebooks.notebook_cells import MIXTURES, NORMALIZATION

HERE = Path(__file__).resolve().parent

NOTEBOOKS: dict[str, list[Cell]] = {
    "normalization.ipynb": NORMALIZATION,
    "mixtures.ipynb": MIXTURES,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (a key of :data:`NOTEBOOKS`), without outputs; cell ids are
    ``<stem>-<index>`` so that rebuilding gives the same file."""
    stem = name.removesuffix(".ipynb")
    cells = []
    for index, (kind, source, tags) in enumerate(NOTEBOOKS[name]):
        metadata = {"tags": list(tags)} if tags else {}
        cell = (new_code_cell(source, metadata=metadata) if kind == "code"
                else new_markdown_cell(source))
        cell["id"] = f"{stem}-{index:02d}"
        cells.append(cell)
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def main() -> None:
    """Write every notebook next to this script."""
    for name in NOTEBOOKS:
        nbformat.write(build(name), HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
