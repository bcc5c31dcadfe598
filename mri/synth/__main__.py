"""``python -m mri.synth``: generate a synthetic dataset (see :func:`mri.synth.cli.main`)."""

from mri.synth.cli import main

# The guard matters: the process pool uses "spawn", whose children re-import this module.
if __name__ == "__main__":
    raise SystemExit(main())
