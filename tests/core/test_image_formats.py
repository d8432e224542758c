"""Every format Pillow reads, by content, with the same size limits as PNG/JPEG/TIFF."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, features

from seggui.core.errors import ImageReadError
from seggui.core.imageio import image_files, image_size, is_image_file, read_image, sniff_kind

RGB = (np.arange(30 * 40 * 3) % 251).astype(np.uint8).reshape(30, 40, 3)
GREY16 = (np.arange(30 * 40) * 37 % 65535).astype(np.uint16).reshape(30, 40)

# name, kind, what is written, save options; each must read back exactly (lossless writers)
LOSSLESS = [
    ("a.webp", "webp", RGB, {"lossless": True}),
    ("a.ppm", "ppm", RGB, {}),
    ("a.pgm", "ppm", GREY16, {}),
    ("a.tga", "tga", RGB, {}),
    ("a.pcx", "pcx", RGB, {}),
    ("a.sgi", "sgi", RGB, {}),
    ("a.qoi", "qoi", RGB, {}),
    ("a.dds", "dds", RGB, {}),
]


@pytest.mark.parametrize("name, kind, array, options", LOSSLESS, ids=[case[0] for case in LOSSLESS])
def test_pillow_formats_read_exactly(tmp_path, name, kind, array, options):
    if kind == "webp" and not features.check_module("webp"):
        pytest.skip("this Pillow has no WebP support")
    path = tmp_path / name
    Image.fromarray(array).save(path, **options)
    assert sniff_kind(path) == kind and is_image_file(path)
    assert image_size(path) == array.shape[:2]
    image = read_image(path)
    assert image.array.dtype == array.dtype  # 16-bit stays 16-bit
    np.testing.assert_array_equal(image.array, array)


def test_jpeg2000_keeps_16_bit(tmp_path):
    if not features.check_codec("jpg_2000"):
        pytest.skip("this Pillow was built without OpenJPEG (JPEG 2000)")
    for name, array in (("rgb.jp2", RGB), ("grey.j2k", GREY16)):
        Image.fromarray(array).save(tmp_path / name, irreversible=False)
        image = read_image(tmp_path / name)
        assert image.kind == "jpeg2000" and image.array.dtype == array.dtype
        np.testing.assert_array_equal(image.array, array)


def test_gif_first_frame_by_content(tmp_path):
    frames = [Image.fromarray(np.full((8, 12), value, np.uint8)) for value in (10, 200)]
    path = tmp_path / "animated.png"  # the name lies: the content decides
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:])
    image = read_image(path)
    assert image.kind == "gif" and image.array.shape[:2] == (8, 12)
    assert image.metadata["frames_ignored"] == 1
    assert (image.array[..., 0] == 10).all()


def test_header_sizes_checked_before_decoding(tmp_path):
    for name, options in (("big.webp", {"lossless": True}), ("big.ppm", {}), ("big.gif", {})):
        Image.fromarray(np.zeros((300, 400), np.uint8)).save(tmp_path / name, **options)
        with pytest.raises(ImageReadError, match="above the limit") as error:
            read_image(tmp_path / name, max_pixels=100 * 100)
        assert error.value.path == str(tmp_path / name)
        with pytest.raises(ImageReadError, match="SEGGUI_MAX_IMAGE_MB"):
            read_image(tmp_path / name, max_bytes=300 * 400 - 1)


def test_webp_header_declaring_huge_canvas_is_refused(tmp_path):
    """A VP8X header says 16384x16384: refused from the header, nothing decoded."""
    path = tmp_path / "liar.webp"
    chunk = b"VP8X" + (10).to_bytes(4, "little") + b"\x00\x00\x00\x00" + (16383).to_bytes(3, "little") * 2
    path.write_bytes(b"RIFF" + (4 + len(chunk)).to_bytes(4, "little") + b"WEBP" + chunk)
    assert image_size(path) == (16384, 16384)
    with pytest.raises(ImageReadError, match="above the limit"):
        read_image(path, max_pixels=1000 * 1000)


def test_corrupt_pillow_image_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.gif"
    Image.fromarray(RGB).save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ImageReadError) as error:
        read_image(path)
    assert error.value.path == str(path) and "GIF" in error.value.message


def test_webp_masks_found_in_folders_and_beside_labelme(tmp_path):
    """WebP was silently skipped in label-mask folders and refused beside LabelMe files."""
    if not features.check_module("webp"):
        pytest.skip("this Pillow has no WebP support")
    from seggui.formats import import_annotations

    masks = tmp_path / "masks"
    masks.mkdir()
    labels = np.zeros((20, 30), np.uint8)
    labels[2:8, 3:9] = 1
    Image.fromarray(labels).save(masks / "cells.webp", lossless=True)
    assert image_files(masks) == [masks / "cells.webp"]
    dataset = import_annotations(masks, format="masks")
    assert len(dataset.images) == 1 and int(dataset.images[0].labels.max()) == 1

    Image.fromarray(RGB).save(tmp_path / "photo.webp", lossless=True)
    document = {"version": "5.0.1", "flags": {}, "imagePath": "photo.webp", "imageData": None,
                "imageHeight": 30, "imageWidth": 40,
                "shapes": [{"label": "cell", "points": [[1, 1], [20, 1], [20, 20]], "shape_type": "polygon"}]}
    (tmp_path / "photo.json").write_text(json.dumps(document))
    dataset = import_annotations(tmp_path / "photo.json", format="labelme")
    assert dataset.images[0].image_path.name == "photo.webp"


def test_one_suffix_list_everywhere():
    from seggui.core.image_formats import image_suffixes, readable_suffixes

    for suffix in (".webp", ".gif", ".jp2", ".pgm", ".tga", ".png", ".tif", ".czi", ".lif", ".nd2", ".zarr"):
        assert suffix in image_suffixes()
    assert set(readable_suffixes()) <= set(image_suffixes())
    assert ".eps" not in image_suffixes() and ".pdf" not in image_suffixes()
