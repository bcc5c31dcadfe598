"""What the notebooks call: open a study, show one part of the report, show the answer.

The notebooks hold no analysis of their own; each cell calls one of these, which run the same
section builders as :mod:`analysis.report` and display the section's caption, figure and tables
with IPython's display machinery.
"""

from __future__ import annotations

import io
from pathlib import Path

from analysis.report import (
    SECTION_BUILDERS,
    ReportContext,
    Section,
    answer_lines,
    report_context,
)
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings


def open_study(
    experiment_dir: str | Path,
    data_dir: str | Path | None = None,
    clip: str | Path | None = None,
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
) -> ReportContext:
    """The experiment and its analysis settings (see :func:`analysis.report.report_context`).

    Raises:
        ValueError: ``experiment_dir`` is empty (set the EXPERIMENT_DIR environment variable or
            the notebook's parameter).
    """
    if not str(experiment_dir).strip():
        raise ValueError("no experiment directory: set EXPERIMENT_DIR (environment variable or "
                         "the notebook's parameters cell) to a study's experiment directory")
    return report_context(experiment_dir, data_dir, clip, settings)


def show(ctx: ReportContext, key: str, max_tables: int = 2, rows: int = 20) -> Section:
    """Build the section ``key`` (one of :data:`analysis.report.SECTION_BUILDERS`) and display
    its title, note, caption, figure and first ``max_tables`` tables (``rows`` rows each)."""
    from IPython.display import Image, Markdown, display

    if key not in SECTION_BUILDERS:
        raise KeyError(f"unknown section {key!r}; valid: {', '.join(SECTION_BUILDERS)}")
    section = SECTION_BUILDERS[key](ctx)
    text = f"### {section.title}\n"
    if section.note:
        text += f"\n> **Note:** {section.note}\n"
    if section.caption:
        text += f"\n{section.caption}\n"
    display(Markdown(text))
    if section.fig is not None:
        display(Image(data=figure_png(section.fig)))
    for table in section.tables[:max_tables]:
        display(Markdown(f"**{table.caption}** ({len(table.frame)} rows)"))
        display(table.frame.head(rows))
    return section


def show_answer(ctx: ReportContext) -> list[str]:
    """Display the report's answer lines (from the sections shown so far) and return them."""
    from IPython.display import Markdown, display

    lines = answer_lines(ctx)
    display(Markdown("\n".join(f"- {line}" for line in lines)))
    return lines


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
