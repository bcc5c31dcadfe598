"""Volume data for the slice datasets (:mod:`mri.data.datasets`): in memory or read slice by
slice from the files.

Data access: by default a process opens the HDF5 files it needs lazily and keeps a bounded
number of handles open; handles never enter pickled state and are reopened after a fork, so a
dataset can be pickled or used in worker processes. ``preload=True`` reads the needed arrays of
every volume once (:func:`load_volumes`); a mapping returned by :func:`load_volumes` may be
passed instead, so several datasets use one in-memory copy.

:class:`Volume` holds one volume's arrays, :func:`load_volumes` reads them for a frame of
metadata rows, and :class:`SliceReader` serves slices from such a mapping or from lazily
opened HDF5 files (:mod:`mri.data.reader`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from mri.data.reader import (
    DataError,
    check_finite,
    kspace_from_handle,
    open_volume,
    target_from_handle,
    target_key,
)


@dataclass(frozen=True)
class Volume:
    """In-memory arrays of one volume: ``kspace`` complex64 ``[slices, (coils,) H, W]`` and
    ``target`` float32 ``[slices, h, w]``; either may be None when not loaded. ``has_target``
    tells whether the file has a reference image at all."""

    kspace: np.ndarray | None
    target: np.ndarray | None
    has_target: bool = True

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.kspace, self.target) if a is not None)


def load_volumes(
    files: pd.DataFrame, *, kspace: bool = True, target: bool = True
) -> dict[str, Volume]:
    """Read the requested arrays of every distinct ``path`` in ``files`` into memory.

    Returns ``{path: Volume}``; arrays are checked for NaN/Inf (:class:`DataError`).
    """
    volumes: dict[str, Volume] = {}
    for path in dict.fromkeys(files["path"]):
        with open_volume(path) as hf:
            volumes[path] = _load_volume(hf, Path(path), kspace, target)
    return volumes


def _load_volume(hf: h5py.File, path: Path, kspace: bool, target: bool) -> Volume:
    arrays: dict[str, np.ndarray | None] = {"kspace": None, "target": None}
    key = target_key(hf)
    try:
        if kspace:
            arrays["kspace"] = np.asarray(hf["kspace"][()], dtype=np.complex64)
        if target and key is not None:
            arrays["target"] = np.asarray(hf[key][()], dtype=np.float32)
    except (OSError, KeyError) as err:
        raise DataError(f"{path}: cannot read volume data: {err}") from err
    for name, array in arrays.items():
        if array is not None:
            check_finite(array, path, name)
    return Volume(**arrays, has_target=key is not None)


class SliceReader:
    """Slice access to volumes, from a preloaded mapping or from lazily opened HDF5 files.

    At most ``max_open`` files stay open (least recently used closed first). Open handles are
    per process: they are dropped when pickled and reopened after a fork.
    """

    def __init__(self, volumes: Mapping[str, Volume] | None = None, max_open: int = 32) -> None:
        self.volumes = volumes
        self.max_open = max_open
        self._handles: OrderedDict[str, h5py.File] = OrderedDict()
        self._pid = os.getpid()

    def kspace(self, path: str, index: int) -> np.ndarray:
        """complex64 ``[coils, H, W]`` or ``[H, W]``."""
        volume = self.volumes.get(path) if self.volumes is not None else None
        if volume is not None and volume.kspace is not None:
            return volume.kspace[index]
        return kspace_from_handle(self._handle(path), Path(path), index)

    def target(self, path: str, index: int) -> np.ndarray | None:
        """float32 ``[h, w]`` or None when the file has no reference image."""
        volume = self.volumes.get(path) if self.volumes is not None else None
        if volume is not None:
            if volume.target is not None:
                return volume.target[index]
            if not volume.has_target:
                return None
        return target_from_handle(self._handle(path), Path(path), index)

    def _handle(self, path: str) -> h5py.File:
        if os.getpid() != self._pid:  # inherited through fork: h5py handles must not be shared
            self._handles = OrderedDict()
            self._pid = os.getpid()
        handle = self._handles.get(path)
        if handle is None:
            handle = open_volume(path)
            self._handles[path] = handle
            while len(self._handles) > self.max_open:
                _, oldest = self._handles.popitem(last=False)
                oldest.close()
        else:
            self._handles.move_to_end(path)
        return handle

    def close(self) -> None:
        """Close every open handle of this process."""
        if os.getpid() == self._pid:
            for handle in self._handles.values():
                handle.close()
        self._handles = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = OrderedDict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()
