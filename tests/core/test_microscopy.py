"""Microscope files through the optional `seggui[microscopy]` readers, one 2-D plane a page.

The real files are GPL test files of readlif/aicspylibczi: read from shared/, never copied.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from seggui.core.errors import ImageReadError
from seggui.core.imageio import image_size, read_image, sniff_kind


@pytest.fixture
def microscopy(shared_data):
    folder = shared_data / "microscopy"
    if not folder.is_dir():
        pytest.skip(f"no microscope test files at {folder}")
    return folder


def test_czi_rgb_and_16_bit(microscopy):
    pytest.importorskip("bioio")
    pytest.importorskip("bioio_czi")
    rgb = read_image(microscopy / "RGB-8bit.czi")
    assert rgb.kind == "czi" and rgb.array.shape == (624, 924, 3) and rgb.array.dtype == np.uint8
    assert rgb.channel_names == ["red", "green", "blue"] and rgb.page_count == 1
    assert rgb.metadata["PhysicalSizeX"] == pytest.approx(1.0833, abs=1e-3)
    grey = read_image(microscopy / "s_1_t_1_c_1_z_1.czi")
    assert grey.array.shape == (325, 475) and grey.array.dtype == np.uint16  # 16-bit kept
    assert grey.metadata["PhysicalSizeY"] == pytest.approx(1.0833, abs=1e-3)
    assert image_size(microscopy / "s_1_t_1_c_1_z_1.czi") == (325, 475)


def test_lif_scenes_and_planes_are_numbered_in_turn(microscopy):
    pytest.importorskip("liffile")
    path = microscopy / "xz-example.lif"
    assert sniff_kind(path) == "lif" and image_size(path) == (128, 128)
    first = read_image(path, page=0)
    # 3 scenes: xzt (T=20), xzy (Y=23 sections), xz (one plane): 20 + 23 + 1 pages
    assert first.page_count == 44 and first.array.shape == (128, 128, 2) and first.array.dtype == np.uint8
    assert first.metadata["scene_name"] == "xzt" and first.metadata["T"] == 0
    assert first.metadata["PhysicalSizeX"] == pytest.approx(0.1403, abs=1e-3)
    second = read_image(path, page=20)
    assert second.metadata["scene_name"] == "xzy" and second.metadata["Y"] == 0
    last = read_image(path, page=43)
    assert last.metadata["scene_name"] == "xz" and last.array.shape == (512, 512, 2)
    assert not np.array_equal(read_image(path, page=1).array, first.array)
    with pytest.raises(ImageReadError, match="plane 44 requested, the file has 44"):
        read_image(path, page=44)


def test_limits_apply_before_decoding(microscopy):
    pytest.importorskip("bioio_czi")
    path = microscopy / "RGB-8bit.czi"
    with pytest.raises(ImageReadError, match="SEGGUI_MAX_PIXELS") as error:
        read_image(path, max_pixels=624 * 924 - 1)
    assert error.value.path == str(path)
    with pytest.raises(ImageReadError, match="SEGGUI_MAX_IMAGE_MB"):
        read_image(path, max_bytes=624 * 924 * 3 - 1)


def test_without_the_extra_the_message_names_file_and_extra(tmp_path):
    """Run where the readers cannot be imported: a clear message, not a skipped file."""
    path = tmp_path / "scan.lif"
    path.write_bytes(b"\x70\x00\x00\x00\x10\x00\x00\x00\x2a" + b"\x00" * 64)
    code = (
        "import sys, importlib.util\n"
        "real = importlib.util.find_spec\n"
        "blocked = ('bioio', 'bioio_czi', 'bioio_nd2', 'bioio_ome_zarr', 'liffile')\n"
        "importlib.util.find_spec = lambda name, *a: None if name in blocked else real(name, *a)\n"
        "for name in blocked: sys.modules[name] = None\n"
        "from seggui.core.imageio import read_image\n"
        "from seggui.core.image_formats import readable_suffixes\n"
        "assert '.lif' not in readable_suffixes() and '.czi' not in readable_suffixes()\n"
        f"read_image({str(path)!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "scan.lif" in result.stderr and "pip install 'seggui[microscopy]'" in result.stderr


def test_predict_collects_microscope_files(tmp_path):
    from seggui.ml.cli_predict import collect_images

    for name in ("a.czi", "b.nd2", "c.lif", "d.webp", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "e.ome.zarr").mkdir()
    (tmp_path / "e.ome.zarr" / "zarr.json").write_text("{}")
    found = [p.name for p in collect_images([tmp_path])]
    assert found == ["a.czi", "b.nd2", "c.lif", "d.webp", "e.ome.zarr"]
    assert collect_images([tmp_path / "e.ome.zarr"]) == [tmp_path / "e.ome.zarr"]


def test_seggui_predict_reads_a_czi(microscopy, tmp_path, capsys):
    pytest.importorskip("bioio_czi")
    from seggui.cli import main

    code = main(["predict", str(microscopy / "s_1_t_1_c_1_z_1.czi"), "--model", "nuclei", "--out",
                 str(tmp_path / "out"), "--tile", "256", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert read_image(tmp_path / "out" / "s_1_t_1_c_1_z_1.png").array.shape == (325, 475)


def test_ome_zarr_folder_planes_over_t_and_z(tmp_path):
    pytest.importorskip("bioio")
    writers = pytest.importorskip("bioio_ome_zarr.writers")
    data = (np.arange(2 * 3 * 2 * 16 * 20) % 4000).astype(np.uint16).reshape(2, 3, 2, 16, 20)  # T C Z Y X
    path = tmp_path / "cells.ome.zarr"
    writers.OMEZarrWriter(str(path), level_shapes=data.shape, dtype=data.dtype,
                          physical_pixel_size=[1, 1, 0.5, 0.25, 0.25]).write_full_volume(data)
    assert image_size(path) == (16, 20)
    for page in range(4):
        image = read_image(path, page=page)
        t, z = divmod(page, 2)
        assert image.kind == "ome-zarr" and image.page_count == 4 and (image.metadata["T"], image.metadata["Z"]) == (t, z)
        np.testing.assert_array_equal(image.array, np.moveaxis(data[t, :, z], 0, -1))
    assert image.metadata["PhysicalSizeX"] == 0.25
