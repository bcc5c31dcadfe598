"""Experiment storage: local paths in place, object-store URIs through a local working copy."""

from __future__ import annotations

from pyarrow import fs

from study.storage import is_uri, local_experiment, storage_filesystem


def test_uris_and_paths_are_told_apart(tmp_path, monkeypatch):
    assert is_uri("s3://bucket/study") and is_uri(f"file://{tmp_path}")
    assert not is_uri("/nfs/results") and not is_uri("results")
    monkeypatch.chdir(tmp_path)
    filesystem, root = storage_filesystem("results")
    assert isinstance(filesystem, fs.LocalFileSystem) and root == str(tmp_path / "results")
    filesystem, root = storage_filesystem(f"file://{tmp_path}/x")
    assert isinstance(filesystem, fs.LocalFileSystem) and root == f"{tmp_path}/x"


def test_experiment_on_an_object_store_is_read_and_written_through_a_local_copy(tmp_path):
    remote = tmp_path / "bucket" / "study"
    (remote / "trial_1" / "checkpoint_000000").mkdir(parents=True)
    (remote / "trial_1" / "result.json").write_text('{"training_iteration": 1}\n')
    (remote / "trial_1" / "checkpoint_000000" / "state.pt").write_bytes(b"weights")
    (remote / "study.json").write_text("{}")
    with local_experiment(f"file://{remote}") as local:
        assert (local / "trial_1" / "result.json").read_text() == '{"training_iteration": 1}\n'
        assert not (local / "trial_1" / "checkpoint_000000").exists()  # not needed, not copied
        (local / "trials.parquet").write_bytes(b"table")
    assert (remote / "trials.parquet").read_bytes() == b"table"
    assert (remote / "trial_1" / "checkpoint_000000" / "state.pt").read_bytes() == b"weights"
    with local_experiment(str(remote)) as local:  # a local or shared path is used in place
        assert local == remote
