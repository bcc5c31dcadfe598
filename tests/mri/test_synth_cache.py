"""Tests of the synthetic-data cache ``mri.synth.cache``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import mri.synth
import mri.synth.cache
from mri.data.cache import cache_root
from mri.synth.cache import (
    MARKER,
    default_data_dir,
    ensure_synthetic_data,
    is_complete,
)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("MRI_STUDY_CACHE", str(root))
    return root


def test_cache_root_env_override_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("MRI_STUDY_CACHE", str(tmp_path / "elsewhere"))
    assert cache_root() == tmp_path / "elsewhere"
    monkeypatch.setenv("MRI_STUDY_CACHE", "~/custom")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_root() == tmp_path / "custom"
    monkeypatch.delenv("MRI_STUDY_CACHE")
    assert cache_root() == tmp_path / ".cache" / "mri-study"


def test_default_data_dir_names_preset_seed_and_version(isolated_cache):
    path = default_data_dir("tiny", 3)
    assert path.parent == isolated_cache
    assert "tiny" in path.name and "seed3" in path.name
    assert path.name.endswith(f"v{mri.synth.GENERATOR_VERSION}")
    assert default_data_dir("tiny", 3) != default_data_dir("tiny", 4)
    assert default_data_dir() == isolated_cache / path.name.replace("tiny", "default").replace(
        "seed3", "seed0"
    )


def test_generates_once_then_reuses(isolated_cache, monkeypatch):
    calls = []
    real_generate = mri.synth.generate

    def counting_generate(out_dir, preset, seed):
        calls.append((Path(out_dir), preset, seed))
        return real_generate(out_dir, preset, seed)

    monkeypatch.setattr(mri.synth.cache, "generate", counting_generate)
    first = ensure_synthetic_data("tiny", 0)
    assert first == default_data_dir("tiny", 0) and is_complete(first)
    assert len(calls) == 1 and calls[0][1:] == ("tiny", 0)
    # generated in a temporary sibling, then renamed into place; nothing left behind
    assert calls[0][0].parent == first.parent and calls[0][0] != first
    assert not calls[0][0].exists()
    assert len(list(first.glob("*.h5"))) == sum(
        d.volumes for d in mri.synth.PRESETS["tiny"].distributions
    )
    assert (first / "annotations.csv").is_file()
    stamp = (first / MARKER).stat().st_mtime_ns
    assert ensure_synthetic_data("tiny", 0) == first
    assert len(calls) == 1 and (first / MARKER).stat().st_mtime_ns == stamp
    leftovers = [p for p in isolated_cache.iterdir() if p.name.startswith(f".{first.name}.tmp")]
    assert leftovers == []


def _fake_generate(delay: float, calls: list):
    def fake(out_dir, preset, seed):
        calls.append(preset)
        time.sleep(delay)
        Path(out_dir, "file_knee_CORPD_FBK_Skyra_0000.h5").write_bytes(b"x")
        return Path(out_dir)

    return fake


def test_concurrent_callers_generate_once(isolated_cache, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(mri.synth.cache, "generate", _fake_generate(0.3, calls))
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_synthetic_data("tiny", 1)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["tiny"]
    assert len(results) == 3 and len(set(results)) == 1 and is_complete(results[0])


def test_incomplete_leftover_is_replaced(isolated_cache, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(mri.synth.cache, "generate", _fake_generate(0.0, calls))
    target = default_data_dir("tiny", 2)
    target.mkdir(parents=True)
    (target / "stale.h5").write_bytes(b"partial")  # no marker: an interrupted run
    assert ensure_synthetic_data("tiny", 2) == target
    assert calls == ["tiny"] and is_complete(target) and not (target / "stale.h5").exists()


def test_failed_generation_leaves_nothing(isolated_cache, monkeypatch):
    def broken(out_dir, preset, seed):
        Path(out_dir, "half.h5").write_bytes(b"x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(mri.synth.cache, "generate", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_synthetic_data("tiny", 5)
    assert not default_data_dir("tiny", 5).exists()
    assert not [p for p in isolated_cache.iterdir() if ".tmp-" in p.name]


def test_unknown_preset_is_rejected(isolated_cache):
    with pytest.raises(ValueError, match="unknown preset 'huge'.*tiny"):
        ensure_synthetic_data("huge")
    assert cache_root() == isolated_cache


def test_cli_without_out_uses_the_cache(isolated_cache, capsys):
    assert mri.synth.main(["--preset", "tiny", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(str(default_data_dir("tiny", 0)))
    assert is_complete(default_data_dir("tiny", 0))
