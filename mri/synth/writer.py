"""Writing simulated volumes in fastMRI's HDF5 layout and fastMRI+ annotation CSVs.

File layout (what fastMRI's files hold):

- ``kspace``: complex64 ``[slices, coils, H, W]`` (single-coil: ``[slices, H, W]``)
- ``reconstruction_rss``: float32 ``[slices, h, w]``; single-coil files also have
  ``reconstruction_esc``, the same image ``crop(|ifft2c(kspace)|)``, stored once with both
  names (an HDF5 hard link). fastMRI's singlecoil files carry both names too, but there
  ``reconstruction_rss`` is the multi-coil RSS; here the reference stays consistent with the
  k-space in the file, whichever name a reader picks.
- ``ismrmrd_header``: ISMRMRD XML (namespace ``http://www.ismrm.org/ISMRMRD``)
- attributes ``acquisition``, ``max``, ``norm``, ``patient_id``

Encoding limits follow fastMRI's reading of them: with ``p_l``/``p_r`` unacquired columns at
the edges of a ``W``-column k-space, ``center = W // 2 - p_l`` and
``maximum = W - p_l - p_r - 1``, so ``padding_left = W // 2 - center = p_l`` and
``padding_right = padding_left + maximum + 1 = W - p_r``.

Annotations follow fastMRI+: ``file`` (stem), ``slice``, ``study_level`` ("No" for boxes),
``x``, ``y``, ``width``, ``height``, ``label``, with ``y`` measured in the up-down flipped image:
``y_csv = h - y_image - height``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

import h5py
import numpy as np

from mri.synth.scanners import GYROMAGNETIC_MHZ_PER_T, SCANNERS
from mri.synth.simulate import Box, SimulatedVolume
from mri.synth.tissues import PROTOCOLS

ISMRMRD_NS = "http://www.ismrm.org/ISMRMRD"
ANNOTATION_COLUMNS = ("file", "slice", "study_level", "x", "y", "width", "height", "label")
# Field of view (mm) of the recon window and slice thickness per anatomy (fastMRI-like).
FOV_MM = {"brain": 220.0, "knee": 140.0}
SLICE_MM = {"brain": 5.0, "knee": 3.0}
ECHO_SPACING_MS = {"brain": 10.0, "knee": 8.0}


def ismrmrd_header(volume: SimulatedVolume) -> bytes:
    """ISMRMRD XML header of a simulated volume (UTF-8 bytes)."""
    spec = volume.spec
    scanner = SCANNERS[spec.dist.scanner]
    protocol = PROTOCOLS[spec.dist.acquisition]
    H, W = spec.preset.kspace_size
    h, w = spec.preset.recon_size
    slices = spec.preset.slices
    pad_l, pad_r = volume.padding
    fov, thick = FOV_MM[spec.dist.anatomy], SLICE_MM[spec.dist.anatomy]

    ET.register_namespace("", ISMRMRD_NS)
    root = ET.Element(_q("ismrmrdHeader"))
    _tree(root, "studyInformation", {"studyTime": "12:00:00"})
    _tree(
        root,
        "measurementInformation",
        {
            "measurementID": f"{spec.seed}_{spec.index}",
            "patientPosition": "HFS" if spec.dist.anatomy == "brain" else "FFS",
            "protocolName": spec.dist.acquisition,
        },
    )
    _tree(
        root,
        "acquisitionSystemInformation",
        {
            "systemVendor": scanner.vendor,
            "systemModel": scanner.model,
            "systemFieldStrength_T": f"{scanner.field_strength_t:g}",
            "relativeReceiverNoiseBandwidth": f"{scanner.noise_bandwidth:g}",
            "receiverChannels": str(spec.file_coils),
            "institutionName": "mri.synth",
        },
    )
    _tree(
        root,
        "experimentalConditions",
        {
            "H1resonanceFrequency_Hz": str(
                int(round(GYROMAGNETIC_MHZ_PER_T * 1e6 * scanner.field_strength_t))
            ),
        },
    )
    encoding = ET.SubElement(root, _q("encoding"))
    for space, (mx, my), (fx, fy) in (
        ("encodedSpace", (H, W), (fov * H / h, fov * W / w)),
        ("reconSpace", (h, w), (fov, fov)),
    ):
        node = ET.SubElement(encoding, _q(space))
        _tree(node, "matrixSize", {"x": str(mx), "y": str(my), "z": "1"})
        _tree(node, "fieldOfView_mm", {"x": f"{fx:g}", "y": f"{fy:g}", "z": f"{thick:g}"})
    limits = ET.SubElement(encoding, _q("encodingLimits"))
    _tree(
        limits,
        "kspace_encoding_step_1",
        {
            "minimum": "0",
            "maximum": str(W - pad_l - pad_r - 1),
            "center": str(W // 2 - pad_l),
        },
    )
    _tree(limits, "kspace_encoding_step_2", {"minimum": "0", "maximum": "0", "center": "0"})
    _tree(
        limits,
        "slice",
        {"minimum": "0", "maximum": str(slices - 1), "center": str(slices // 2)},
    )
    for name in ("average", "contrast", "phase", "repetition", "set", "segment"):
        _tree(limits, name, {"minimum": "0", "maximum": "0", "center": "0"})
    ET.SubElement(encoding, _q("trajectory")).text = "cartesian"
    parallel = ET.SubElement(encoding, _q("parallelImaging"))
    _tree(
        parallel,
        "accelerationFactor",
        {"kspace_encoding_step_1": "1", "kspace_encoding_step_2": "1"},
    )
    ET.SubElement(parallel, _q("calibrationMode")).text = "other"
    ti = protocol.inversion_time(scanner.nominal_field)
    sequence = {
        "TR": f"{protocol.tr:g}",
        "TE": f"{protocol.te:g}",
        **({"TI": f"{ti:g}"} if ti is not None else {}),
        "flipAngle_deg": f"{protocol.flip_angle_deg:g}",
        "sequence_type": "TurboSpinEcho",
        "echo_spacing": f"{ECHO_SPACING_MS[spec.dist.anatomy]:g}",
    }
    _tree(root, "sequenceParameters", sequence)
    ET.indent(root, space="   ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_volume(volume: SimulatedVolume, out_dir: Path) -> Path:
    """Write ``<stem>.h5`` into ``out_dir``; returns its path."""
    path = Path(out_dir) / f"{volume.spec.stem}.h5"
    target = volume.target
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=volume.kspace)
        if volume.spec.dist.single_coil:
            f.create_dataset("reconstruction_esc", data=target)
            f["reconstruction_rss"] = f["reconstruction_esc"]  # hard link: one copy on disk
        else:
            f.create_dataset("reconstruction_rss", data=target)
        f.create_dataset("ismrmrd_header", data=np.bytes_(ismrmrd_header(volume)))
        f.attrs["acquisition"] = volume.spec.dist.acquisition
        f.attrs["max"] = float(target.max())
        f.attrs["norm"] = float(np.linalg.norm(target))
        f.attrs["patient_id"] = volume.patient_id
    return path


def annotation_rows(stem: str, boxes: Iterable[Box], recon_h: int) -> list[dict[str, object]]:
    """fastMRI+ rows for one file's boxes (``y`` flipped: ``h - y - height``)."""
    return [
        {
            "file": stem,
            "slice": box.slice,
            "study_level": "No",
            "x": box.x,
            "y": recon_h - box.y - box.height,
            "width": box.width,
            "height": box.height,
            "label": box.label,
        }
        for box in boxes
    ]


def write_annotations(rows: Iterable[dict[str, object]], path: Path) -> Path:
    """Write ``annotations.csv`` (header row always present)."""
    return write_csv(rows, path, ANNOTATION_COLUMNS)


def write_csv(rows: Iterable[dict[str, object]], path: Path, columns: Sequence[str]) -> Path:
    """Write ``rows`` with the header ``columns`` (present even without rows)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def _q(tag: str) -> str:
    return f"{{{ISMRMRD_NS}}}{tag}"


def _tree(parent: ET.Element, tag: str, children: dict[str, str]) -> ET.Element:
    node = ET.SubElement(parent, _q(tag))
    for name, text in children.items():
        ET.SubElement(node, _q(name)).text = text
    return node
