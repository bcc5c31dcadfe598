"""The report's command line, and writing the whole report."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from analysis import figures
from analysis.report.context import ReportContext, Section, report_context
from analysis.report.html import render_html, write_table
from analysis.report.sections import SECTIONS
from analysis.report.text import answer_lines
from analysis.stats import DEFAULT_BOOTSTRAP, BootstrapSettings


def build_sections(ctx: ReportContext, strict: bool = False) -> list[Section]:
    """Every section of the report, in order (see :data:`SECTIONS`)."""
    return [_run_section(builder, ctx, strict) for builder in SECTIONS]


def build_report(
    experiment_dir: str | Path,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    clip: str | Path | None = None,
    settings: BootstrapSettings = DEFAULT_BOOTSTRAP,
    max_slices: int | None = None,
    strict: bool = False,
    annotation_csvs: Sequence[str | Path] | None = None,
) -> Path:
    """Write the report of an experiment and return the path of its ``index.html``.

    ``strict=True`` re-raises an error in any section instead of noting it in the report
    (tests use it; a researcher's run keeps every other section).
    """
    ctx = report_context(experiment_dir, data_dir, clip, settings, max_slices, annotation_csvs)
    out = Path(out) if out else ctx.exp.path / "report"
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    sections = build_sections(ctx, strict)
    for section in sections:
        if section.fig is not None:
            section.fig.savefig(out / section.figure, dpi=figures.DPI)
        for table in section.tables:
            write_table(table.frame, out / "tables" / table.name)
    index = out / "index.html"
    index.write_text(render_html(ctx, sections, answer_lines(ctx)))
    return index


def _run_section(builder: Callable[[ReportContext], Section], ctx: ReportContext,
                 strict: bool) -> Section:
    """Build one section; an error becomes a note (and a warning on stderr) unless strict."""
    try:
        return builder(ctx)
    except Exception as err:
        if strict:
            raise
        name = builder.__name__.removesuffix("_section")
        print(f"warning: report section {name!r} failed: {err}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return Section(name, name.replace("_", " ").capitalize(),
                       note=f"this section failed: {type(err).__name__}: {err}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m analysis.report",
                                description=sys.modules["analysis.report"].__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", type=Path, help="experiment directory (<storage>/<name>)")
    p.add_argument("--out", type=Path, help="report directory (default EXPERIMENT/report)")
    p.add_argument("--data", type=Path, help="data directory for train-test similarity "
                   "(default: data_dir in study.json)")
    p.add_argument("--annotations", nargs="+", type=Path, metavar="CSV", help="fastMRI+ "
                   "label files (default: those the study ran with, else annotations.csv in "
                   "the data directory)")
    p.add_argument("--clip", type=Path, help="local CLIP model directory (default: "
                   "$MRI_STUDY_CLIP, else a weight-free encoder)")
    p.add_argument("--n-resamples", type=int, default=DEFAULT_BOOTSTRAP.n_resamples,
                   help="bootstrap resamples per interval")
    p.add_argument("--confidence", type=float, default=DEFAULT_BOOTSTRAP.confidence,
                   help="confidence level of the intervals")
    p.add_argument("--max-slices", type=int, help="central slices per volume used for "
                   "embeddings (default: all)")
    p.add_argument("--strict", action="store_true", help="stop at the first failing section")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: build the report, print where ``index.html`` is. Exit status 2 on a bad
    experiment directory or encoder path."""
    import matplotlib

    matplotlib.use("Agg")
    args = parse_args(argv)
    settings = BootstrapSettings(confidence=args.confidence, n_resamples=args.n_resamples)
    try:
        index = build_report(args.experiment, args.out, args.data, args.clip, settings,
                             args.max_slices, args.strict, args.annotations)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {index.resolve()}")
    return 0
