"""``python -m mri.synth`` and the ``mri-synth`` script: make a synthetic dataset, print its
summary (:func:`mri.synth.generate.summarize`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mri.synth.cache import ensure_synthetic_data
from mri.synth.generate import generate, summarize
from mri.synth.presets import PRESETS


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m mri.synth [--out DIR] [--preset NAME] [--seed S] [--workers N]``.

    Without ``--out`` the dataset goes to (or is reused from) the cache,
    :func:`mri.synth.cache.ensure_synthetic_data`, and its directory is printed.
    """
    parser = argparse.ArgumentParser(prog="python -m mri.synth", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.out is None:
        out = ensure_synthetic_data(args.preset, args.seed)
    else:
        out = generate(args.out, args.preset, args.seed, workers=args.workers)
    seconds = time.perf_counter() - start
    summary = summarize(out, args.preset, args.seed)
    print(f"{out}: {summary.line(seconds)}")
    print(summary.table())
    return 0
