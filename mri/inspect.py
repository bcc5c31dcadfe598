"""Inspect a data directory: what each file is, the distributions and splits, and bad files.

Usage::

    python -m mri.inspect DIR [--strict] [--annotations CSV [CSV ...]] [--validate] [--no-cache]

Prints one row per usable file (file, distribution, anatomy, contrast, scanner, field, coils,
slices, k-space and recon matrix, split), the distributions with volume and slice counts per
split, annotation counts per finding (``--annotations``, or ``DIR/annotations.csv`` when present),
and every bad file or annotation row with its reason.

Exit status: 0 when the directory is usable; 1 when it has no usable file, or with ``--strict``
(which implies ``--validate``: every array is read and checked for NaN/Inf) when any file or
annotation row is bad; 2 when DIR does not exist or holds no ``*.h5`` file. Annotation rows for
files that are not in DIR are counted and reported, not bad.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mri.data.annotations import FINDINGS, annotation_files, load_annotations
from mri.data.metadata import SPLITS, MetadataTable, scan_directory
from mri.data.reader import DataError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m mri.inspect`` and ``mri-inspect``; returns the exit status."""
    args = _parser().parse_args(argv)
    data_dir = Path(args.data_dir).expanduser()
    if not data_dir.is_dir():
        print(
            f"error: data directory {data_dir} does not exist or is not a directory",
            file=sys.stderr,
        )
        return 2
    # --strict promises a directory a study can run on, so it reads every array too
    table = scan_directory(data_dir, use_cache=not args.no_cache,
                           validate=args.validate or args.strict)
    if table.files.empty and table.bad.empty:
        print(f"error: no .h5 files under {data_dir}", file=sys.stderr)
        return 2
    print(f"data directory: {data_dir}")
    print(
        f"{len(table.files)} usable volumes ({table.num_slices} slices), {len(table.bad)} bad files"
    )
    if not table.files.empty:
        print()
        print(_file_table(table.files).to_string(index=False))
        print()
        print("distributions (volumes / slices per split):")
        print(_distribution_table(table.files).to_string())
    annotation_problems = _report_annotations(args.annotations, data_dir, table)
    if not table.bad.empty:
        print()
        print("bad files:")
        for file, reason in zip(table.bad["file"], table.bad["reason"], strict=True):
            print(f"  {file}: {reason}")
    if table.files.empty:
        print("error: no usable volume", file=sys.stderr)
        return 1
    if args.strict and (not table.bad.empty or annotation_problems):
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mri.inspect", description=__doc__.split("\n")[0]
    )
    parser.add_argument("data_dir", metavar="DIR", help="directory of fastMRI-format .h5 files")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 if any file or annotation row is bad; "
        "implies --validate (every slice read and checked for NaN/Inf)"
    )
    parser.add_argument(
        "--annotations",
        metavar="CSV",
        type=Path,
        nargs="+",
        help="fastMRI+ annotation CSVs as published, e.g. knee.csv brain.csv (default: "
        "DIR/annotations.csv if any)",
    )
    parser.add_argument(
        "--validate", action="store_true", help="read every slice and check for NaN/Inf (slower)"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="ignore and do not write the metadata cache"
    )
    return parser


def _file_table(files: pd.DataFrame) -> pd.DataFrame:
    matrix = [
        f"{kh}x{kw}->{rh}x{rw}"
        for kh, kw, rh, rw in zip(
            files["kspace_h"], files["kspace_w"], files["recon_h"], files["recon_w"], strict=True
        )
    ]
    return pd.DataFrame(
        {
            "file": files["file"],
            "distribution": files["distribution"],
            "anatomy": files["anatomy"],
            "contrast": files["contrast"],
            "scanner": files["scanner"],
            "field": [f"{f:.2f}T" if f == f else "?" for f in files["field_strength"]],
            "coils": files["coils"],
            "slices": files["slices"],
            "matrix": matrix,
            "split": files["split"],
        }
    )


def _distribution_table(files: pd.DataFrame) -> pd.DataFrame:
    volumes = files.pivot_table(
        index="distribution", columns="split", values="file", aggfunc="count", fill_value=0
    )
    slices = files.pivot_table(
        index="distribution", columns="split", values="slices", aggfunc="sum", fill_value=0
    )
    out = pd.DataFrame(index=volumes.index)
    for split in SPLITS:
        v = volumes[split] if split in volumes else 0
        s = slices[split] if split in slices else 0
        out[split] = [
            f"{a} / {b}"
            for a, b in zip(
                pd.Series(v, index=out.index), pd.Series(s, index=out.index), strict=True
            )
        ]
    out["total"] = [
        f"{a} / {b}" for a, b in zip(volumes.sum(axis=1), slices.sum(axis=1), strict=True)
    ]
    out.index.name = None
    return out


def _report_annotations(given: list[Path] | None, data_dir: Path, table: MetadataTable) -> int:
    """Print the annotation summary; return the number of bad rows (or 1 if unreadable)."""
    csvs = annotation_files(data_dir, given)
    if not csvs:
        return 0
    csv = ", ".join(map(str, csvs))
    print()
    try:
        annotations = load_annotations(csvs, table, on_error="skip")
    except DataError as err:
        print(f"annotations: {err}")
        return 1
    counts = annotations.finding_counts()
    print(
        f"annotations {csv}: {len(annotations)} boxes; slices per finding: "
        + ", ".join(f"{name} {counts[name]}" for name in FINDINGS)
    )
    if annotations.absent:
        print(f"  {annotations.absent_summary()}")
    for message in annotations.skipped:
        print(f"  bad row: {message}")
    return len(annotations.skipped)


if __name__ == "__main__":
    sys.exit(main())
