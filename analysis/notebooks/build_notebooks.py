"""Write the study notebooks: ``python analysis/notebooks/build_notebooks.py``.

Each notebook takes its experiment path from a cell tagged ``parameters`` (papermill's
convention) whose default reads the ``EXPERIMENT_DIR`` environment variable, and then only calls
:mod:`analysis.notebook`, so it runs unchanged under papermill, nbclient or Jupyter.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
PARAMETERS = 'import os\n\nEXPERIMENT_DIR = os.environ.get("EXPERIMENT_DIR", "")'
OPEN = ("from analysis.notebook import open_study, show, show_answer\n\n"
        "ctx = open_study(EXPERIMENT_DIR)\nctx.exp.info")

NOTEBOOKS = {
    "normalization.ipynb": (
        "# Normalization under input shifts\n\n"
        "How large is each normalization scheme's out-of-distribution (OOD) gap, per kind and "
        "severity of shift, and does the ranking hold at each scheme's best tuned "
        "configuration? Set `EXPERIMENT_DIR` (environment variable or the parameters cell) to "
        "the experiment directory of a normalization study.",
        ["validity", "headline", "gaps", "severity", "settings", "robustness", "overfitting"],
    ),
    "mixtures.ipynb": (
        "# Training-data diversity\n\n"
        "Are models trained on mixtures as good in distribution as specialised ones and more "
        "robust out of distribution? Does robustness follow train-test similarity, and does "
        "OOD quality peak before in-distribution quality? Set `EXPERIMENT_DIR` to the "
        "experiment directory of a mixture study; the image embeddings use the CLIP model at "
        "`MRI_STUDY_CLIP` when set, else the weight-free encoder.",
        ["validity", "headline", "gaps", "settings", "robustness", "overfitting", "similarity",
         "pathology"],
    ),
}


def build(title: str, sections: list[str]) -> nbformat.NotebookNode:
    """A notebook: title, parameters cell, opening cell, one cell per section, the answer."""
    cells = [new_markdown_cell(title),
             new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
             new_code_cell(OPEN)]
    cells += [new_code_cell(f'show(ctx, "{key}");') for key in sections]
    cells += [new_markdown_cell("## Answer (computed from the sections above)"),
              new_code_cell("show_answer(ctx);")]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def main() -> None:
    """Write every notebook next to this script."""
    for name, (title, sections) in NOTEBOOKS.items():
        nbformat.write(build(title, sections), HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
