"""Reading fastMRI-format HDF5 volumes, with errors that name the file and the problem.

A volume file holds (fastMRI's layout, see ``CONTRACT.md``):

- ``kspace``: complex64 ``[slices, coils, H, W]`` (multi-coil) or ``[slices, H, W]``
  (single-coil); H is the (2x oversampled) readout, W the phase-encode direction.
- ``reconstruction_rss`` (or ``reconstruction_esc`` for single-coil challenge files): float32
  ``[slices, recon_h, recon_w]``, the fully sampled reference image. Optional (test files lack it).
  Single-coil files use ``reconstruction_esc`` when present (fastMRI's singlecoil files hold
  both, and their ``reconstruction_rss`` is the multi-coil RSS, not the image of the file's
  k-space), multi-coil files ``reconstruction_rss`` (see :func:`target_key`).
- ``ismrmrd_header``: ISMRMRD XML with the encoded and recon matrix sizes, the k-space
  encoding limits and the scanner description.
- attributes ``max``, ``norm``, ``acquisition``, ``patient_id``.

Padding: real acquisitions may leave phase-encode columns unsampled at the edges. From the
header, ``padding_left = enc_y // 2 - center`` and ``padding_right = padding_left + maximum + 1``
where ``center``/``maximum`` are ``encodingLimits/kspace_encoding_step_1``; columns outside
``[padding_left, padding_right)`` hold no data and must stay out of any sampling mask.

Every problem with a file raises :class:`DataError` whose message starts with the file path.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

if TYPE_CHECKING:
    import torch

ISMRMRD_NAMESPACE = "http://www.ismrm.org/ISMRMRD"
TARGET_KEYS = ("reconstruction_rss", "reconstruction_esc")  # preference for multi-coil files

# fastMRI acquisition names -> contrast labels used in distribution names.
CONTRASTS = {
    "CORPD_FBK": "pd",
    "CORPDFS_FBK": "pdfs",
    "AXT1": "t1",
    "AXT1PRE": "t1",
    "AXT1POST": "t1post",
    "AXT2": "t2",
    "AXFLAIR": "flair",
}
ANATOMIES = ("brain", "knee")


class DataError(ValueError):
    """A data file (or annotation file) is unusable; the message names it and the problem."""


@dataclass(frozen=True)
class VolumeInfo:
    """Everything known about one volume without reading its k-space.

    Sizes follow ISMRMRD: ``x`` is the readout (k-space H), ``y`` the phase encode (k-space W).
    ``field_strength`` is in tesla (NaN when the header lacks it); ``max``/``norm`` are NaN when
    the attributes are missing.
    """

    path: str
    file: str
    kspace_shape: tuple[int, ...]
    multicoil: bool
    slices: int
    coils: int
    kspace_h: int
    kspace_w: int
    enc_size: tuple[int, int, int]
    recon_size: tuple[int, int, int]
    recon_h: int
    recon_w: int
    encoding_center: int
    encoding_maximum: int
    padding_left: int
    padding_right: int
    scanner: str
    vendor: str
    field_strength: float
    receiver_channels: int | None
    protocol: str
    max: float
    norm: float
    acquisition: str
    patient_id: str
    anatomy: str
    contrast: str
    target_key: str | None
    target_shape: tuple[int, ...] | None
    attrs: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (for tables)."""
        return asdict(self)


def infer_anatomy(file_name: str, acquisition: str) -> str:
    """``'brain'``/``'knee'`` from the file name, else from the acquisition prefix.

    fastMRI brain acquisitions are axial (``AX...``), knee ones coronal (``COR...``); anything
    else is ``'unknown'``.
    """
    lowered = file_name.lower()
    for anatomy in ANATOMIES:
        if anatomy in lowered:
            return anatomy
    upper = acquisition.upper()
    if upper.startswith("AX"):
        return "brain"
    if upper.startswith("COR"):
        return "knee"
    return "unknown"


def normalise_contrast(acquisition: str) -> str:
    """Contrast label of a fastMRI acquisition name (``CORPD_FBK -> 'pd'``, ...).

    Unknown acquisitions map to their lowercased name, a missing one to ``'unknown'``.
    """
    if not acquisition:
        return "unknown"
    return CONTRASTS.get(acquisition.upper(), acquisition.lower())


def read_header(path: str | Path) -> VolumeInfo:
    """Read the header, attributes and dataset shapes of a volume (no k-space data).

    Raises :class:`DataError` for a missing, non-HDF5, truncated or corrupt file, a missing or
    malformed ``kspace`` dataset, a reference image whose shape does not match, and an
    unparseable ``ismrmrd_header``.
    """
    path = Path(path)
    with open_volume(path) as hf:
        return _info_from_handle(hf, path)


def read_slice(path: str | Path, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Read slice ``index``: ``(kspace, target)``.

    ``kspace`` is complex64 ``[coils, H, W]`` (multi-coil) or ``[H, W]`` (single-coil);
    ``target`` is float32 ``[recon_h, recon_w]`` or None when the file has no reference image.
    Raises :class:`DataError` when the slice holds NaN or Inf, IndexError when out of range.
    """
    path = Path(path)
    with open_volume(path) as hf:
        _check_layout(hf, path)
        kspace, target = slice_from_handle(hf, path, index)
    import torch  # here, so that header-only tools (mri.inspect) start without torch

    return torch.from_numpy(kspace), None if target is None else torch.from_numpy(target)


def validate_file(path: str | Path) -> VolumeInfo:
    """Full check of a volume: the header checks of :func:`read_header` plus every k-space and
    reference slice read and tested for NaN/Inf. Returns the header on success."""
    path = Path(path)
    with open_volume(path) as hf:
        info = _info_from_handle(hf, path)
        for index in range(info.slices):
            slice_from_handle(hf, path, index)
    return info


def open_volume(path: str | Path) -> h5py.File:
    """Open a volume read-only, turning h5py's OSError into a :class:`DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DataError(
            f"{path}: not a readable HDF5 file (corrupt, truncated or another format): {err}"
        ) from err


def slice_from_handle(
    hf: h5py.File, path: Path, index: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read one slice from an open file as NumPy arrays, checking it is finite.

    Returns ``(kspace complex64 [coils, H, W] or [H, W], target float32 [h, w] or None)``.
    """
    return kspace_from_handle(hf, path, index), target_from_handle(hf, path, index)


def kspace_from_handle(hf: h5py.File, path: Path, index: int) -> np.ndarray:
    """k-space slice ``index`` (complex64 ``[coils, H, W]`` or ``[H, W]``), checked finite."""
    index = _check_index(hf, path, index)
    kspace = _read(hf, "kspace", path, index, np.complex64)
    check_finite(kspace, path, f"kspace slice {index}")
    return kspace


def target_from_handle(hf: h5py.File, path: Path, index: int) -> np.ndarray | None:
    """Reference image slice ``index`` (float32 ``[h, w]``) or None; checked finite."""
    key = target_key(hf)
    if key is None:
        return None
    index = _check_index(hf, path, index)
    target = _read(hf, key, path, index, np.float32)
    check_finite(target, path, f"{key} slice {index}")
    return target


def _check_index(hf: h5py.File, path: Path, index: int) -> int:
    num_slices = hf["kspace"].shape[0]
    if not -num_slices <= index < num_slices:
        raise IndexError(f"{path}: slice {index} out of range for {num_slices} slices")
    return int(index) % num_slices


def _read(hf: h5py.File, key: str, path: Path, index: int, dtype: type) -> np.ndarray:
    try:
        return np.asarray(hf[key][index], dtype=dtype)
    except OSError as err:  # data chunks lost to truncation or corruption
        raise DataError(
            f"{path}: cannot read {key} slice {index} (corrupt or truncated): {err}"
        ) from err


def check_finite(array: np.ndarray, path: str | Path, what: str) -> None:
    """Raise :class:`DataError` naming ``path`` and ``what`` if ``array`` holds NaN or Inf."""
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        raise DataError(f"{path}: {what} contains {bad} NaN/Inf values")


def _info_from_handle(hf: h5py.File, path: Path) -> VolumeInfo:
    kspace_shape, multicoil = _check_layout(hf, path)
    target_name = target_key(hf)
    target_shape = None
    if target_name is not None:
        target_shape = tuple(int(n) for n in hf[target_name].shape)
        if len(target_shape) != 3 or target_shape[0] != kspace_shape[0]:
            raise DataError(
                f"{path}: {target_name} has shape {target_shape}, expected "
                f"[{kspace_shape[0]} slices, h, w] to match kspace {kspace_shape}"
            )
        if not np.issubdtype(hf[target_name].dtype, np.floating):
            raise DataError(
                f"{path}: {target_name} has dtype {hf[target_name].dtype}, expected float"
            )
    header = _parse_header(hf, path)
    _check_matrices(header, kspace_shape, path)
    attrs = {key: _plain(value) for key, value in hf.attrs.items()}
    acquisition = str(attrs.get("acquisition", "") or "")
    enc_y = header["enc_size"][1]
    padding_left = enc_y // 2 - header["center"]
    return VolumeInfo(
        path=str(path),
        file=path.name,
        kspace_shape=kspace_shape,
        multicoil=multicoil,
        slices=kspace_shape[0],
        coils=kspace_shape[1] if multicoil else 1,
        kspace_h=kspace_shape[-2],
        kspace_w=kspace_shape[-1],
        enc_size=header["enc_size"],
        recon_size=header["recon_size"],
        recon_h=header["recon_size"][0],
        recon_w=header["recon_size"][1],
        encoding_center=header["center"],
        encoding_maximum=header["maximum"],
        padding_left=padding_left,
        padding_right=padding_left + header["maximum"] + 1,
        scanner=header["scanner"],
        vendor=header["vendor"],
        field_strength=header["field_strength"],
        receiver_channels=header["receiver_channels"],
        protocol=header["protocol"],
        max=_float_attr(attrs, "max", path),
        norm=_float_attr(attrs, "norm", path),
        acquisition=acquisition,
        patient_id=str(attrs.get("patient_id", "") or ""),
        anatomy=infer_anatomy(path.name, acquisition),
        contrast=normalise_contrast(acquisition),
        target_key=target_name,
        target_shape=target_shape,
        attrs=attrs,
    )


def _check_layout(hf: h5py.File, path: Path) -> tuple[tuple[int, ...], bool]:
    """Check the ``kspace`` dataset; return its shape and whether it is multi-coil."""
    if "kspace" not in hf:
        raise DataError(f"{path}: missing 'kspace' dataset (keys: {sorted(hf.keys())})")
    kspace = hf["kspace"]
    if not isinstance(kspace, h5py.Dataset):
        raise DataError(f"{path}: 'kspace' is a group, expected a dataset")
    if not np.issubdtype(kspace.dtype, np.complexfloating):
        raise DataError(f"{path}: kspace has dtype {kspace.dtype}, expected complex64")
    shape = tuple(int(n) for n in kspace.shape)
    if len(shape) not in (3, 4):
        raise DataError(
            f"{path}: kspace has {len(shape)} dims {shape}, expected [slices, coils, H, W] "
            "or [slices, H, W]"
        )
    if min(shape) == 0:
        raise DataError(f"{path}: kspace is empty, shape {shape}")
    return shape, len(shape) == 4


def target_key(hf: h5py.File) -> str | None:
    """Name of the reference image in an open file, or None when it has none.

    Multi-coil k-space (4-D): ``reconstruction_rss``, else ``reconstruction_esc``. Single-coil
    (3-D): ``reconstruction_esc`` first, the magnitude image of that very k-space.
    """
    kspace = hf.get("kspace")
    single = isinstance(kspace, h5py.Dataset) and kspace.ndim == 3
    keys = TARGET_KEYS[::-1] if single else TARGET_KEYS
    return next((key for key in keys if key in hf), None)


def _parse_header(hf: h5py.File, path: Path) -> dict[str, Any]:
    if "ismrmrd_header" not in hf:
        raise DataError(f"{path}: missing 'ismrmrd_header' dataset")
    raw = hf["ismrmrd_header"][()]
    if isinstance(raw, np.ndarray):
        raw = raw.tobytes() if raw.dtype.kind in "SV" else bytes(raw)
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as err:
        raise DataError(f"{path}: unparseable ismrmrd_header XML: {err}") from err
    enc = ("encoding", "encodedSpace", "matrixSize")
    rec = ("encoding", "reconSpace", "matrixSize")
    lims = ("encoding", "encodingLimits", "kspace_encoding_step_1")
    enc_size = tuple(_int_field(root, (*enc, axis), path) for axis in "xyz")
    recon_size = tuple(_int_field(root, (*rec, axis), path) for axis in "xyz")
    system = ("acquisitionSystemInformation",)
    # Without encoding limits assume the full encoded width was acquired (no padding).
    center = _optional(root, (*lims, "center"))
    maximum = _optional(root, (*lims, "maximum"))
    field_text = _optional(root, (*system, "systemFieldStrength_T"))
    channels = _optional(root, (*system, "receiverChannels"))
    try:
        return {
            "enc_size": enc_size,
            "recon_size": recon_size,
            "center": enc_size[1] // 2 if center is None else int(center),
            "maximum": enc_size[1] - 1 if maximum is None else int(maximum),
            "field_strength": math.nan if field_text is None else float(field_text),
            "receiver_channels": None if channels is None else int(channels),
            "scanner": _optional(root, (*system, "systemModel")) or "unknown",
            "vendor": _optional(root, (*system, "systemVendor")) or "unknown",
            "protocol": _optional(root, ("measurementInformation", "protocolName")) or "",
        }
    except ValueError as err:
        raise DataError(f"{path}: unparseable ismrmrd_header value: {err}") from err


def _check_matrices(header: dict[str, Any], kspace_shape: tuple[int, ...], path: Path) -> None:
    """The header's matrix sizes must be positive, and the recon matrix must fit in the
    k-space (the image is a centre crop of the inverse FFT of ``[H, W]``)."""
    H, W = kspace_shape[-2:]
    for name, words in (("enc_size", "encoded"), ("recon_size", "recon")):
        x, y = header[name][:2]
        if x < 1 or y < 1:
            raise DataError(f"{path}: ismrmrd_header {words} matrix {x}x{y} is not a positive "
                            "size")
    h, w = header["recon_size"][:2]
    if h > H or w > W:
        raise DataError(f"{path}: ismrmrd_header recon matrix {h}x{w} is larger than the "
                        f"k-space {H}x{W} it would be cropped from")


def _find(root: ElementTree.Element, names: tuple[str, ...]) -> ElementTree.Element | None:
    query = "." + "".join(f"//ns:{name}" for name in names)
    return root.find(query, {"ns": ISMRMRD_NAMESPACE})


def _optional(root: ElementTree.Element, names: tuple[str, ...]) -> str | None:
    node = _find(root, names)
    if node is None or node.text is None or not node.text.strip():
        return None
    return node.text.strip()


def _int_field(root: ElementTree.Element, names: tuple[str, ...], path: Path) -> int:
    text = _optional(root, names)
    if text is None:
        raise DataError(f"{path}: ismrmrd_header lacks {'/'.join(names)}")
    try:
        return int(text)
    except ValueError as err:
        raise DataError(
            f"{path}: ismrmrd_header {'/'.join(names)} = {text!r} is not an int"
        ) from err


def _plain(value: Any) -> Any:
    """HDF5 attribute -> plain Python value (bytes decoded, NumPy scalars unwrapped)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _float_attr(attrs: dict[str, Any], key: str, path: Path) -> float:
    if key not in attrs:
        return math.nan
    try:
        return float(attrs[key])
    except (TypeError, ValueError) as err:
        raise DataError(f"{path}: attribute {key!r} = {attrs[key]!r} is not a number") from err
