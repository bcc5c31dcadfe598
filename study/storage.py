"""Where an experiment is stored: a local or shared path (NFS, EFS) or an object-store URI
(``s3://``, ``gs://``, ``abfs://``, ``file://``, ...), through pyarrow's filesystems; and a local
working copy of an experiment kept on an object store, for the steps that need files.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from study.experiment_format import SAMPLES_FILE


def is_uri(path: str) -> bool:
    """True for an object-store URI (``scheme://...``), False for a local or shared path."""
    return "://" in path


def storage_filesystem(path: str):
    """``(pyarrow filesystem, path inside it)`` for a local path or a URI (``s3://``, ``gs://``,
    ``abfs://``, ``file://``, ...)."""
    from pyarrow import fs

    if is_uri(path):
        return fs.FileSystem.from_uri(path)
    return fs.LocalFileSystem(), str(Path(path).resolve())


@contextmanager
def local_experiment(path: str, skip: tuple[str, ...] = ("checkpoint_",)) -> Iterator[Path]:
    """A local directory that holds the experiment at ``path``.

    A local or shared path is used as it is. For a URI, the block gets a temporary copy of the
    experiment without the folders whose names start with ``skip`` (checkpoints; of those only
    the confirm trials' per-sample rows are fetched, which the results tables gather); files
    the block creates or changes there are uploaded back to the URI when it ends without
    error.
    """
    if not is_uri(path):
        yield Path(path)
        return
    filesystem, root = storage_filesystem(path)
    with tempfile.TemporaryDirectory(prefix="experiment_") as tmp:
        local = Path(tmp) / Path(root.rstrip("/")).name
        _download(filesystem, root, local, skip)
        before = _stamps(local)
        yield local
        for rel, stamp in _stamps(local).items():
            if before.get(rel) != stamp:
                with filesystem.open_output_stream(f"{root.rstrip('/')}/{rel}") as out:
                    out.write((local / rel).read_bytes())


def _download(filesystem, root: str, local: Path, skip: tuple[str, ...]) -> None:
    from pyarrow import fs

    local.mkdir(parents=True, exist_ok=True)
    root = root.rstrip("/")
    for info in filesystem.get_file_info(fs.FileSelector(root, recursive=True)):
        rel = info.path[len(root) + 1:]
        parts = rel.split("/")
        skipped = any(part.startswith(skip) for part in parts[:-1]) and parts[-1] != SAMPLES_FILE
        if info.type != fs.FileType.File or skipped:
            continue
        target = local / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with filesystem.open_input_stream(info.path) as src:
            target.write_bytes(src.read())


def _stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime in ns) of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}
