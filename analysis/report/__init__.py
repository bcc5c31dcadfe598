"""The study's report: ``python -m analysis.report EXPERIMENT_DIR [--out DIR] [--data DIR]
[--clip PATH]``.

Writes, under ``--out`` (default ``EXPERIMENT_DIR/report``): ``figures/*.png`` (seaborn),
``tables/*.csv`` and ``tables/*.md`` (``validity.csv`` and ``headline.csv`` among them), and
``index.html``. The page opens with the answer and whether the study can give one (validity:
each arm's in-distribution score against its reference, convergence, interval widths), then
the headline comparisons between arms from the confirm trials, then the study's settings and
every other figure with a caption saying what it shows, with which definitions and intervals.
Analyses that do not apply to the study are skipped with a note instead of an empty figure.

Parts: :mod:`.context` (the experiment and its answer, opened once), :mod:`.sections` (one
builder per section), :mod:`.text` (the answer in sentences), :mod:`.html` (files and page),
:mod:`.cli` (the command line).

Train-test similarity needs the images: the data directory comes from ``--data`` or
``study.json``; the encoder from ``--clip``/``$MRI_STUDY_CLIP`` (a local CLIP directory), else
the weight-free fallback, named as such in the report.
"""

from __future__ import annotations

from analysis.report.cli import build_report, build_sections, main
from analysis.report.context import ReportContext, Section, Table, report_context
from analysis.report.html import markdown_table, write_table
from analysis.report.sections import SECTION_BUILDERS, SECTIONS
from analysis.report.text import answer_lines

__all__ = [
    "SECTIONS",
    "SECTION_BUILDERS",
    "ReportContext",
    "Section",
    "Table",
    "answer_lines",
    "build_report",
    "build_sections",
    "main",
    "markdown_table",
    "report_context",
    "write_table",
]
