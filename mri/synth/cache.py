"""Where the embedded synthetic dataset lives, and making it exactly once.

``ensure_synthetic_data(preset, seed)`` returns a directory holding the preset's files,
generating them on first use. Generation goes into a temporary directory next to the target,
which is renamed into place only when complete (a marker file inside records what it holds),
and an exclusive file lock keeps two processes (e.g. two Ray workers on one node) from
generating the same dataset at once: the second waits, then reuses the first's result.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mri.data.cache import cache_root
from mri.synth.generate import GENERATOR_VERSION, generate
from mri.synth.presets import PRESETS

MARKER = ".complete"


def default_data_dir(preset: str = "default", seed: int = 0) -> Path:
    """Cache directory of a preset's dataset (it may not exist yet).

    The generator version is part of the name, so a changed generator never reuses stale data.
    """
    return cache_root() / f"synth-{preset}-seed{seed}-v{GENERATOR_VERSION}"


def is_complete(data_dir: Path) -> bool:
    """True when ``data_dir`` holds a finished dataset (its marker file exists)."""
    return (Path(data_dir) / MARKER).is_file()


def ensure_synthetic_data(preset: str = "default", seed: int = 0) -> Path:
    """Directory of the preset's synthetic dataset, generated once and reused afterwards."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    target = default_data_dir(preset, seed)
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.parent / f".{target.name}.lock"):
        if is_complete(target):  # another process finished it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            start = time.perf_counter()
            generate(tmp, preset, seed)
            marker = {
                "preset": preset,
                "seed": seed,
                "seconds": round(time.perf_counter() - start, 2),
                "files": len(list(tmp.glob("*.h5"))),
            }
            (tmp / MARKER).write_text(json.dumps(marker) + "\n")
            tmp.chmod(0o755)  # mkdtemp makes it private; the dataset is meant to be shared
            if target.exists():  # an incomplete leftover (e.g. a killed run); never complete here
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Block until this process holds an exclusive ``flock`` on ``path``.

    The lock dies with the process, so a crashed generator never blocks the next one.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: fall back to no locking
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
