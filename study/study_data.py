"""The data a launch ships to its trials, all found and built before Ray starts: the data
directory (given, or the embedded synthetic data, generated once), checked for the study's
distributions, and the bundle of arrays every trial shares. A data problem (a missing
distribution, a NaN in k-space, a bad annotation row, an empty split) stops the launch with
exit status 2, naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from study.options import LaunchError, RunOptions


def resolve_data(opts: RunOptions) -> Path:
    """The data directory (``--data``, or the embedded synthetic data, generated once), checked
    to hold every distribution the study needs with train/val/test volumes."""
    from mri.data.distributions import UnknownDistributionError, select
    from mri.data.metadata import scan_directory

    study = opts.study

    if opts.data is None:
        from mri.synth.cache import ensure_synthetic_data

        data_dir = ensure_synthetic_data(study.data_preset)
    else:
        data_dir = opts.data
        if not data_dir.is_dir():
            raise LaunchError(f"--data {data_dir}: not a directory")
    table = scan_directory(data_dir)
    if len(table.bad):
        print(f"warning: {len(table.bad)} bad file(s) in {data_dir} are left out:")
        for row in table.bad.itertuples():
            print(f"  {row.file}: {row.reason}")
    missing = []
    for name in study.distributions:
        try:
            rows = select(table, name)
        except UnknownDistributionError:
            rows = []
        if len(rows) == 0 or not {"train", "val", "test"} <= set(rows["split"]):
            missing.append(name)
    if missing:
        raise LaunchError(
            f"--data {data_dir}: study {study.name!r} needs the distributions "
            f"{', '.join(missing)} with train/val/test volumes; present: "
            f"{', '.join(sorted(table.files['distribution'].unique())) or 'none'} "
            "(python -m mri.inspect DIR lists them)"
        )
    return Path(data_dir)


def build_bundle(study, data_dir: Path, annotation_csvs: Sequence[Path] | None = None):
    """The arrays every trial shares, built before Ray starts, so a data problem (a NaN in
    k-space, a bad annotation row, an empty split) stops the launch with exit status 2."""
    from mri.data.reader import DataError

    try:
        bundle = study.build_data(data_dir, annotation_csvs=annotation_csvs)
    except (DataError, ValueError) as e:
        raise LaunchError(f"--data {data_dir}: {e}") from None
    for note in getattr(bundle, "notes", []):
        print(f"note: {note}")
    return bundle
