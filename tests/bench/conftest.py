"""The benchmark scripts' shared runner: each script in its ``--quick`` mode, from the
repository, with one data cache for the session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def run_bench(tmp_path_factory):
    cache = tmp_path_factory.mktemp("bench_cache")

    def run(script: str, *args: str, timeout: int = 600) -> str:
        env = {**os.environ, "MRI_STUDY_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}
        out = subprocess.run([sys.executable, f"bench/{script}", *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return out.stdout

    return run
