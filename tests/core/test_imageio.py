import numpy as np
import pytest
import tifffile
import cv2

from seggui.core.errors import ImageReadError
from seggui.core.imageio import image_size, read_image


def write_png(path, array):
    assert cv2.imwrite(str(path), array)
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_grey_keeps_bit_depth(tmp_path, dtype):
    array = (np.arange(64 * 48).reshape(48, 64) * 37 % np.iinfo(dtype).max).astype(dtype)
    image = read_image(write_png(tmp_path / "a.png", array))
    assert image.array.dtype == dtype
    np.testing.assert_array_equal(image.array, array)
    assert image_size(tmp_path / "a.png") == (48, 64)


def test_png_rgb_is_returned_in_rgb_order(tmp_path):
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 0] = 200  # red
    write_png(tmp_path / "c.png", rgb[..., ::-1])  # OpenCV writes BGR
    image = read_image(tmp_path / "c.png")
    assert image.array.shape == (10, 12, 3)
    assert image.array[0, 0].tolist() == [200, 0, 0]
    assert image.channel_names == ["red", "green", "blue"]


def test_rgba_16bit_png(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 65535, (9, 7, 4), dtype=np.uint16)
    write_png(tmp_path / "d.png", rgba)
    image = read_image(tmp_path / "d.png")
    assert image.array.dtype == np.uint16 and image.array.shape == (9, 7, 4)
    np.testing.assert_array_equal(image.array[..., 3], rgba[..., 3])


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_jpeg_and_bmp(tmp_path, suffix):
    array = np.full((20, 30), 128, np.uint8)
    cv2.imwrite(str(tmp_path / f"e{suffix}"), array)
    image = read_image(tmp_path / f"e{suffix}")
    assert image.array.shape[:2] == (20, 30)


def test_float_tiff(tmp_path):
    array = np.random.default_rng(2).normal(size=(16, 16)).astype(np.float32)
    tifffile.imwrite(tmp_path / "f.tif", array)
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif").array, array)


def test_multichannel_tiff_channels_last(tmp_path):
    array = np.random.default_rng(3).integers(0, 4000, (3, 20, 30), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", array, photometric="minisblack", metadata={"axes": "CYX"})
    image = read_image(tmp_path / "g.tif")
    assert image.array.shape == (20, 30, 3)
    np.testing.assert_array_equal(image.array[..., 1], array[1])


def test_multipage_tiff_first_or_chosen_plane(tmp_path):
    stack = np.stack([np.full((8, 9), i, np.uint16) for i in range(5)])
    tifffile.imwrite(tmp_path / "h.tif", stack)
    first = read_image(tmp_path / "h.tif")
    assert first.array.shape == (8, 9) and first.page_count == 5 and first.array[0, 0] == 0
    assert read_image(tmp_path / "h.tif", page=3).array[0, 0] == 3
    with pytest.raises(ImageReadError, match="plane 7"):
        read_image(tmp_path / "h.tif", page=7)


def test_ome_tiff_metadata(tmp_path):
    array = np.zeros((2, 16, 16), np.uint16)
    tifffile.imwrite(tmp_path / "o.ome.tif", array, metadata={
        "axes": "CYX", "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.325, "Channel": {"Name": ["DAPI", "GFP"]}})
    image = read_image(tmp_path / "o.ome.tif")
    assert image.metadata["ome"] is True
    assert image.channel_names == ["DAPI", "GFP"]
    assert float(image.metadata["PhysicalSizeX"]) == pytest.approx(0.325)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"hello, I am text pretending to be a PNG", "not a PNG"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "header|corrupt"),
])
def test_broken_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message) as error:
        read_image(path)
    assert "broken.png" in str(error.value)


def test_truncated_png_and_tiff(tmp_path):
    array = np.random.default_rng(4).integers(0, 65535, (200, 200), dtype=np.uint16)
    write_png(tmp_path / "t.png", array)
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="t.png"):
        read_image(tmp_path / "t.png")
    tifffile.imwrite(tmp_path / "t.tif", array)
    data = (tmp_path / "t.tif").read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageReadError, match="t.tif"):
        read_image(tmp_path / "t.tif")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path)


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    write_png(tmp_path / "big.png", np.zeros((300, 400), np.uint8))
    with pytest.raises(ImageReadError, match="above the limit"):
        read_image(tmp_path / "big.png", max_pixels=100_000)
    tifffile.imwrite(tmp_path / "big.tif", np.zeros((300, 400), np.uint16))
    with pytest.raises(ImageReadError, match="above the limit"):
        read_image(tmp_path / "big.tif", max_pixels=100_000)


def test_real_16bit_files(shared_data):
    stardist = read_image(shared_data / "cells/stardist/img2d.tif")
    assert stardist.array.dtype == np.uint16 and stardist.array.shape == (512, 512)
    usiigaci = read_image(shared_data / "cells/usiigaci/val/set46/raw.tif")
    assert usiigaci.array.dtype == np.uint16 and usiigaci.array.shape == (1022, 1024)
    assert usiigaci.array.max() > 255  # really 16-bit data, not reduced
    labels = read_image(shared_data / "cells/stardist/mask2d.tif")
    assert labels.array.dtype == np.uint16 and labels.array.max() > 10


def test_real_dsb_rgba_png(shared_data):
    folder = sorted((shared_data / "cells/dsb2018").iterdir())[0]
    image = read_image(next((folder / "images").glob("*.png")))
    assert image.array.ndim == 3 and image.array.shape[2] == 4 and image.array.dtype == np.uint8
