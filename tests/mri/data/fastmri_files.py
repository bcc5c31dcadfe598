"""Small fastMRI-format files for the data-layer tests: valid ones and broken variants.

``write_volume`` writes a file whose content is fully known (returned as a dict), so tests can
check that the reader recovers exactly what was written. The ``write_*`` variants each break
one thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from mri.coils import center_crop, rss
from mri.fft import fft2c, ifft2c

NS = "http://www.ismrm.org/ISMRMRD"


def header_xml(
    enc: tuple[int, int, int],
    recon: tuple[int, int, int],
    *,
    center: int,
    maximum: int,
    vendor: str | None = "SIEMENS",
    model: str | None = "Skyra",
    field_t: float | None = 2.89362,
    channels: int | None = 4,
    protocol: str | None = "AXT2",
) -> bytes:
    """ISMRMRD header XML with the fields the reader parses (None leaves a field out)."""
    system = "".join(
        f"<{tag}>{value}</{tag}>"
        for tag, value in (
            ("systemVendor", vendor),
            ("systemModel", model),
            ("systemFieldStrength_T", field_t),
            ("receiverChannels", channels),
        )
        if value is not None
    )
    measurement = (
        f"<measurementInformation><protocolName>{protocol}</protocolName></measurementInformation>"
        if protocol is not None
        else ""
    )

    def matrix(size: tuple[int, int, int]) -> str:
        return (
            "<matrixSize>"
            + "".join(f"<{a}>{n}</{a}>" for a, n in zip("xyz", size, strict=False))
            + ("</matrixSize>")
        )

    xml = (
        f'<?xml version="1.0"?><ismrmrdHeader xmlns="{NS}">'
        f"<acquisitionSystemInformation>{system}</acquisitionSystemInformation>"
        f"{measurement}<encoding>"
        f"<encodedSpace>{matrix(enc)}</encodedSpace><reconSpace>{matrix(recon)}</reconSpace>"
        "<encodingLimits><kspace_encoding_step_1><minimum>0</minimum>"
        f"<maximum>{maximum}</maximum><center>{center}</center>"
        "</kspace_encoding_step_1></encodingLimits></encoding></ismrmrdHeader>"
    )
    return xml.encode()


def make_kspace(
    slices: int, coils: int | None, shape: tuple[int, int], seed: int = 0
) -> np.ndarray:
    """Random smooth-ish images -> centered k-space, complex64 ``[slices, (coils,) H, W]``."""
    rng = np.random.default_rng(seed)
    lead = (slices,) if coils is None else (slices, coils)
    images = rng.normal(size=(*lead, *shape)) + 1j * rng.normal(size=(*lead, *shape))
    return fft2c(torch.from_numpy(images.astype(np.complex64))).numpy()


def reference(kspace: np.ndarray, recon: tuple[int, int], multicoil: bool) -> np.ndarray:
    """``center_crop(rss(ifft2c(kspace)))`` float32 ``[slices, h, w]``."""
    image = ifft2c(torch.from_numpy(kspace))
    magnitude = rss(image, dim=-3) if multicoil else image.abs()
    return center_crop(magnitude, recon).numpy().astype(np.float32)


def write_volume(
    path: str | Path,
    *,
    slices: int = 3,
    coils: int | None = 4,
    shape: tuple[int, int] = (32, 24),
    recon: tuple[int, int] = (16, 16),
    acquisition: str = "AXT2",
    patient_id: str = "patient-1",
    field_t: float | None = 2.89362,
    model: str | None = "Skyra",
    vendor: str | None = "SIEMENS",
    protocol: str | None = "AXT2",
    center: int | None = None,
    maximum: int | None = None,
    with_target: bool = True,
    target_key: str = "reconstruction_rss",
    seed: int = 0,
    header: bytes | None = None,
    kspace: np.ndarray | None = None,
    target: np.ndarray | None = None,
    attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a valid fastMRI-format file; return what was written.

    ``coils=None`` writes single-coil k-space ``[slices, H, W]``. ``center``/``maximum``
    default to no padding (``W // 2`` and ``W - 1``).
    """
    path = Path(path)
    H, W = shape
    center = W // 2 if center is None else center
    maximum = W - 1 if maximum is None else maximum
    if kspace is None:
        kspace = make_kspace(slices, coils, shape, seed)
    if target is None and with_target:
        target = reference(kspace, recon, multicoil=kspace.ndim == 4)
    if header is None:
        header = header_xml(
            (H, W, 1),
            (*recon, 1),
            center=center,
            maximum=maximum,
            vendor=vendor,
            model=model,
            field_t=field_t,
            channels=coils or 1,
            protocol=protocol,
        )
    written_attrs: dict[str, Any] = {"acquisition": acquisition, "patient_id": patient_id}
    if target is not None:
        written_attrs["max"] = float(np.max(target))
        written_attrs["norm"] = float(np.linalg.norm(target))
    written_attrs.update(attrs or {})
    with h5py.File(path, "w") as hf:
        hf.create_dataset("kspace", data=kspace)
        if with_target and target is not None:
            hf.create_dataset(target_key, data=target)
        hf.create_dataset("ismrmrd_header", data=header)
        for key, value in written_attrs.items():
            hf.attrs[key] = value
    return {
        "path": path,
        "kspace": kspace,
        "target": target if with_target else None,
        "attrs": written_attrs,
        "center": center,
        "maximum": maximum,
        "header": header,
    }


def write_truncated(path: str | Path, keep_fraction: float = 0.5, **kwargs: Any) -> Path:
    """A valid file whose bytes are then cut to ``keep_fraction`` of its size."""
    path = Path(path)
    write_volume(path, **kwargs)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(int(size * keep_fraction))
    return path


def write_not_hdf5(path: str | Path) -> Path:
    """A text file with an ``.h5`` name."""
    path = Path(path)
    path.write_text("this is not an HDF5 file\n" * 10)
    return path


def write_missing_kspace(path: str | Path) -> Path:
    """A file with header and reference image but no ``kspace``."""
    path = Path(path)
    written = write_volume(path)
    with h5py.File(path, "a") as hf:
        del hf["kspace"]
    assert written["target"] is not None
    return path


def write_wrong_dtype(path: str | Path) -> Path:
    """``kspace`` stored as float32 magnitudes instead of complex."""
    kspace = np.abs(make_kspace(3, 4, (32, 24))).astype(np.float32)
    target = np.ones((3, 16, 16), dtype=np.float32)
    write_volume(path, kspace=kspace, target=target)
    return Path(path)


def write_wrong_ndim(path: str | Path) -> Path:
    """``kspace`` with 2 dims."""
    kspace = make_kspace(1, None, (32, 24))[0]
    write_volume(path, kspace=kspace, with_target=False)
    return Path(path)


def write_nan(path: str | Path, slice_index: int = 1) -> Path:
    """A valid file whose k-space slice ``slice_index`` holds a NaN."""
    kspace = make_kspace(3, 4, (32, 24))
    target = reference(kspace, (16, 16), multicoil=True)
    kspace[slice_index, 0, 5, 5] = np.nan
    write_volume(path, kspace=kspace, target=target)
    return Path(path)


def write_wrong_rss_shape(path: str | Path) -> Path:
    """``reconstruction_rss`` with 2 slices for 3 k-space slices."""
    write_volume(path, target=np.ones((2, 16, 16), dtype=np.float32))
    return Path(path)


def write_bad_header(path: str | Path) -> Path:
    """``ismrmrd_header`` that is not well-formed XML."""
    write_volume(path, header=b"<ismrmrdHeader><encoding><unclosed>")
    return Path(path)


BAD_WRITERS = {
    "truncated": write_truncated,
    "not_hdf5": write_not_hdf5,
    "missing_kspace": write_missing_kspace,
    "wrong_dtype": write_wrong_dtype,
    "wrong_ndim": write_wrong_ndim,
    "wrong_rss_shape": write_wrong_rss_shape,
    "bad_header": write_bad_header,
}
