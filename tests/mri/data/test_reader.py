"""The reader recovers exactly what a file holds and names the file in every error."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import torch
from fastmri_files import BAD_WRITERS, header_xml, write_nan, write_volume

from mri.data.reader import (
    DataError,
    infer_anatomy,
    normalise_contrast,
    read_header,
    read_slice,
    validate_file,
)


def test_header_fields_padding_and_attrs(tmp_path):
    written = write_volume(
        tmp_path / "file_knee_CORPD_FBK_Skyra_0007.h5",
        slices=5,
        coils=3,
        shape=(40, 30),
        recon=(20, 18),
        acquisition="CORPD_FBK",
        patient_id="abc",
        field_t=2.89362,
        model="Skyra",
        vendor="SIEMENS",
        protocol="CORPD_FBK",
        center=13,
        maximum=25,
    )
    info = read_header(written["path"])
    assert info.file == "file_knee_CORPD_FBK_Skyra_0007.h5"
    assert info.kspace_shape == (5, 3, 40, 30) and info.multicoil
    assert (info.slices, info.coils, info.kspace_h, info.kspace_w) == (5, 3, 40, 30)
    assert info.enc_size == (40, 30, 1) and info.recon_size == (20, 18, 1)
    assert (info.recon_h, info.recon_w) == (20, 18)
    # padding_left = enc_y // 2 - center; padding_right = padding_left + maximum + 1
    assert info.padding_left == 30 // 2 - 13 == 2
    assert info.padding_right == 2 + 25 + 1 == 28
    assert (info.scanner, info.vendor, info.protocol) == ("Skyra", "SIEMENS", "CORPD_FBK")
    assert info.field_strength == pytest.approx(2.89362)
    assert info.receiver_channels == 3
    assert info.max == pytest.approx(float(written["target"].max()))
    assert info.norm == pytest.approx(float(np.linalg.norm(written["target"])))
    assert (info.acquisition, info.patient_id) == ("CORPD_FBK", "abc")
    assert (info.anatomy, info.contrast) == ("knee", "pd")
    assert info.target_key == "reconstruction_rss" and info.target_shape == (5, 20, 18)


def test_single_coil_and_missing_optional_fields(tmp_path):
    path = tmp_path / "vol.h5"
    write_volume(
        path,
        coils=None,
        field_t=None,
        model=None,
        vendor=None,
        protocol=None,
        with_target=False,
        acquisition="AXFLAIR",
    )
    info = read_header(path)
    assert not info.multicoil and info.coils == 1 and info.kspace_shape == (3, 32, 24)
    assert math.isnan(info.field_strength) and info.scanner == "unknown"
    assert math.isnan(info.max) and info.target_key is None
    assert (info.anatomy, info.contrast) == ("brain", "flair")  # from the AX prefix


def test_read_slice_returns_the_written_arrays(tmp_path):
    written = write_volume(tmp_path / "v.h5", slices=4)
    kspace, target = read_slice(written["path"], 2)
    assert kspace.dtype == torch.complex64 and kspace.shape == (4, 32, 24)
    np.testing.assert_array_equal(kspace.numpy(), written["kspace"][2])
    assert target.dtype == torch.float32
    np.testing.assert_array_equal(target.numpy(), written["target"][2])
    with pytest.raises(IndexError, match="v.h5"):
        read_slice(written["path"], 4)


def test_reconstruction_esc_is_a_target(tmp_path):
    written = write_volume(tmp_path / "sc.h5", coils=None, target_key="reconstruction_esc")
    _, target = read_slice(written["path"], 0)
    np.testing.assert_array_equal(target.numpy(), written["target"][0])


@pytest.mark.parametrize(
    ("coils", "key", "other"),
    [
        (None, "reconstruction_esc", "reconstruction_rss"),
        (3, "reconstruction_rss", "reconstruction_esc"),
    ],
)
def test_target_follows_the_kspace_layout_when_both_images_exist(tmp_path, coils, key, other):
    """fastMRI's singlecoil files hold reconstruction_esc (the image of their k-space) and
    reconstruction_rss (the multi-coil RSS): single-coil reads the former, multi-coil the latter."""
    written = write_volume(tmp_path / "both.h5", coils=coils, target_key=key)
    with h5py.File(written["path"], "a") as f:
        f.create_dataset(other, data=2 * written["target"])
    info = read_header(written["path"])
    assert info.target_key == key
    _, target = read_slice(written["path"], 0)
    np.testing.assert_array_equal(target.numpy(), written["target"][0])


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("truncated", "not a readable HDF5"),
        ("not_hdf5", "not a readable HDF5"),
        ("missing_kspace", "missing 'kspace'"),
        ("wrong_dtype", "dtype float32"),
        ("wrong_ndim", "2 dims"),
        ("wrong_rss_shape", "reconstruction_rss has shape (2, 16, 16)"),
        ("bad_header", "unparseable ismrmrd_header"),
    ],
)
def test_bad_input_names_file_and_problem(tmp_path, name, fragment):
    path = BAD_WRITERS[name](tmp_path / f"broken_{name}.h5")
    for check in (read_header, validate_file):
        with pytest.raises(DataError) as err:
            check(path)
        assert f"broken_{name}.h5" in str(err.value) and fragment in str(err.value)
    assert isinstance(err.value, ValueError)


def test_nan_found_by_slice_read_and_validation(tmp_path):
    path = write_nan(tmp_path / "nanny.h5", slice_index=1)
    read_header(path)  # the header alone is fine
    read_slice(path, 0)
    with pytest.raises(DataError, match=r"nanny\.h5: kspace slice 1 contains 1 NaN"):
        read_slice(path, 1)
    with pytest.raises(DataError, match=r"nanny\.h5.*slice 1"):
        validate_file(path)


def test_missing_file_and_missing_matrix_size(tmp_path):
    with pytest.raises(DataError, match="nowhere.h5: no such file"):
        read_header(tmp_path / "nowhere.h5")
    header = b'<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD"><encoding/></ismrmrdHeader>'
    path = tmp_path / "nomatrix.h5"
    write_volume(path, header=header)
    with pytest.raises(DataError, match="nomatrix.h5: ismrmrd_header lacks encoding/encodedSpace"):
        read_header(path)


@pytest.mark.parametrize(
    ("enc", "recon", "fragment"),
    [
        ((-5, 0, 1), (16, 16, 1), "encoded matrix -5x0 is not a positive size"),
        ((32, 24, 1), (0, 16, 1), "recon matrix 0x16 is not a positive size"),
        ((32, 24, 1), (100000, 100000, 1), "recon matrix 100000x100000 is larger than the "
                                           "k-space 32x24"),
    ],
)
def test_impossible_matrix_sizes_are_refused(tmp_path, enc, recon, fragment):
    path = tmp_path / "matrix.h5"
    write_volume(path, header=header_xml(enc, recon, center=12, maximum=23))
    with pytest.raises(DataError, match=f"matrix.h5: ismrmrd_header {fragment}"):
        read_header(path)


def test_non_numeric_max_attribute(tmp_path):
    path = tmp_path / "attr.h5"
    write_volume(path)
    with h5py.File(path, "a") as hf:
        hf.attrs["max"] = "big"
    with pytest.raises(DataError, match="attr.h5: attribute 'max'"):
        read_header(path)


@pytest.mark.parametrize(
    ("acquisition", "contrast"),
    [
        ("CORPD_FBK", "pd"),
        ("CORPDFS_FBK", "pdfs"),
        ("AXT1", "t1"),
        ("AXT1PRE", "t1"),
        ("AXT1POST", "t1post"),
        ("AXT2", "t2"),
        ("AXFLAIR", "flair"),
        ("SAGT2_X", "sagt2_x"),
        ("", "unknown"),
    ],
)
def test_contrast_names(acquisition, contrast):
    assert normalise_contrast(acquisition) == contrast


def test_anatomy_from_name_then_acquisition():
    assert infer_anatomy("file_brain_CORPD.h5", "CORPD_FBK") == "brain"
    assert infer_anatomy("file1000.h5", "CORPDFS_FBK") == "knee"
    assert infer_anatomy("file1000.h5", "AXT1") == "brain"
    assert infer_anatomy("file1000.h5", "SAG") == "unknown"
