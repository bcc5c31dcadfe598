"""The report as files: tables as CSV and markdown, and ``index.html``."""

from __future__ import annotations

import datetime
import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import figures
from analysis.report.context import ReportContext, Section
from analysis.trials import best_trials, group_sizes

INLINE_ROWS = 30


def write_table(frame: pd.DataFrame, stem: Path) -> None:
    """``<stem>.csv`` and ``<stem>.md``."""
    frame.to_csv(stem.with_suffix(".csv"), index=False)
    stem.with_suffix(".md").write_text(markdown_table(frame) + "\n")


def _cell(value: object) -> str:
    """A table cell as text: floats to 4 significant digits, NaN as an empty cell."""
    if isinstance(value, float | np.floating):
        return "" if not np.isfinite(value) else f"{value:.4g}"
    if value is None or value is pd.NA:
        return ""
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``frame`` (``|`` in cells escaped)."""
    if frame.empty and not len(frame.columns):
        return "(no rows)"
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        cells = [_cell(v).replace("|", "\\|").replace("\n", " ") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
th { background: #f2f2f2; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.4em 0.8em; }
.answer { background: #eef6ee; border-left: 4px solid #3a3; padding: 0.4em 1em; }
details { margin: 0.3em 0 1em; }
"""


def render_html(ctx: ReportContext, sections: Sequence[Section], answers: Sequence[str]) -> str:
    """The whole ``index.html``."""
    exp = ctx.exp
    title = f"Study report: {exp.info.study}"
    body = [f"<h1>{_e(title)}</h1>", _settings_html(ctx),
            "<h2>Answer</h2><div class='answer'><ul>"
            + "".join(f"<li>{_e(line)}</li>" for line in answers) + "</ul></div>",
            _contents_html(sections)]
    body += [_section_html(section) for section in sections]
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def _settings_html(ctx: ReportContext) -> str:
    """The study's settings as a definition table."""
    exp, info = ctx.exp, ctx.exp.info
    trials = exp.trials
    statuses = trials["status"].value_counts().to_dict() if len(trials) else {}
    groups = group_sizes(exp)
    best = best_trials(exp)
    rows = {
        "experiment": str(exp.path),
        "study": f"{info.study} ({info.task})",
        "objective": f"{info.metric} ({info.mode})",
        "evaluation metric": figures.metric_label(exp.main_metric),
        "budget": budget_text(info, len(trials)),
        "groups": f"{exp.group_name}: " + ", ".join(f"{g} ({n})" for g, n in groups.items()),
        "trials per status": ", ".join(f"{s}: {n}" for s, n in statuses.items()) or "none",
        "stopped early by ASHA": str(int(trials["stopped_early"].sum())) if len(trials) else "0",
        "errored": str(int((trials["status"] == "ERROR").sum())) if len(trials) else "0",
        "best trial per group": ", ".join(f"{r.group}: {r.trial_id} ({r.objective:.4f})"
                                          for r in best.itertuples()) or "none",
        "distributions": ", ".join(info.distributions) or "unknown",
        "data directory": str(ctx.data_dir) if ctx.data_dir else "not given",
        "image encoder": ctx.encoder.name if ctx.encoder is not None else "not used",
        "intervals": ctx.interval + " (over trials unless a caption says otherwise)",
        "tables": "rebuilt from Tune's files (study unfinished?)" if exp.rebuilt
        else "trials.parquet, metrics.parquet",
        "generated": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    rows.update({k: str(v) for k, v in info.extra.items()})
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows.items())
    return f"<h2>Study settings</h2><table>{cells}</table>"


def budget_text(info, n_trials: int) -> str:
    """The study's budget in words: search and confirm horizons when they differ."""
    search = info.extra.get("search_epochs")
    if search is not None and info.max_epochs is not None and int(search) < info.max_epochs:
        return (f"search trials up to {int(search)} epochs, confirm trials {info.max_epochs}; "
                f"{n_trials} trials")
    return f"max {info.max_epochs} epochs per trial; {n_trials} trials"


def _contents_html(sections: Sequence[Section]) -> str:
    """Links to each section."""
    items = "".join(f"<li><a href='#{s.key}'>{_e(s.title)}</a>"
                    + (" (skipped)" if s.figure is None and s.note else "") + "</li>"
                    for s in sections)
    return f"<h2>Contents</h2><ul>{items}</ul>"


def _section_html(section: Section) -> str:
    """A section: note, figure with caption, tables (small ones inline, all linked)."""
    parts = [f"<h2 id='{section.key}'>{_e(section.title)}</h2>"]
    if section.note:
        parts.append(f"<p class='note'>{_e(section.note)}</p>")
    if section.figure:
        parts.append(f"<figure><a href='{section.figure}'><img src='{section.figure}' "
                     f"alt='{_e(section.title)}'></a><figcaption>{_e(section.caption)}"
                     "</figcaption></figure>")
    for table in section.tables:
        links = (f"<a href='tables/{table.name}.csv'>CSV</a>, "
                 f"<a href='tables/{table.name}.md'>markdown</a>")
        parts.append(f"<p><b>{_e(table.caption)}</b> ({len(table.frame)} rows; {links})</p>")
        if 0 < len(table.frame) <= INLINE_ROWS:
            parts.append(table.frame.to_html(index=False, na_rep="", border=0,
                                             float_format=lambda v: f"{v:.4g}"))
        elif len(table.frame):
            parts.append("<details><summary>show the first rows</summary>"
                         + table.frame.head(INLINE_ROWS).to_html(
                             index=False, na_rep="", border=0, float_format=lambda v: f"{v:.4g}")
                         + "</details>")
    return "\n".join(parts)


def _e(text: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(text), quote=True)
