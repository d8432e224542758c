"""Hostile image files a colleague might send: special files, padded files, decoded-size bombs.

Each attack must end quickly (a time limit proves nothing hangs), within bounded memory
(tracemalloc peaks: numpy and Python buffers are traced), and as an ImageReadError naming
the file, or as a correct read of the image inside it.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from seggui.core.atomic import sha256_file
from seggui.core.errors import FormatError, ImageReadError
from seggui.core.imageio import DEFAULT_MAX_PIXELS, image_size, read_image, sniff_kind
from seggui.formats.safety import decode_image_bytes

from .child_memory import peak_kib, seggui_command

REPO = Path(__file__).resolve().parents[2]
MiB = 1024**2
SPARSE_TAIL = 3 << 30

pytestmark = pytest.mark.timeout(120)


def within(seconds: float, call):
    """Run `call` in a thread; fail (instead of hanging the run) when it takes longer."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it hangs"
    outcome["seconds"] = time.monotonic() - start
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def peak_bytes(call) -> tuple[object, int]:
    """(result, peak traced allocation in bytes) of `call`."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def refused(call) -> tuple[ImageReadError, int]:
    """The ImageReadError `call` raises, and the peak traced allocation on the way."""
    tracemalloc.start()
    try:
        with pytest.raises(ImageReadError) as caught:
            call()
        return caught.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def write_png(path: Path, array: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), array)
    return path


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zero_png(path: Path, width: int, height: int, depth: int = 16, colour: int = 6) -> Path:
    """A valid all-zero PNG of any size in ~1 s: one zero block deflated, then repeated.

    After a full flush the deflate state is reset, so every further identical block
    compresses to the same bytes; the Adler-32 of n zeros is ((n % 65521) << 16) | 1.
    """
    channels = {0: 1, 2: 3, 6: 4}[colour]
    total = height * (1 + width * channels * depth // 8)  # each row: filter byte 0, then zeros
    block = 1 << 20
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(bytes(block)) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(bytes(block)) + deflate.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(total, block)
    body = first + again * (count - 1) + deflate.compress(bytes(rest)) + deflate.flush()
    stream = b"\x78\xda" + body + struct.pack(">I", ((total % 65521) << 16) | 1)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", stream) + chunk(b"IEND", b""))
    return path


def with_sparse_tail(path: Path) -> Path:
    with open(path, "r+b") as handle:
        handle.truncate(SPARSE_TAIL)  # a hole: costs no disk, reads as 3 GiB of zeros
    return path


def small_image(seed: int = 0, shape=(64, 64)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)


# -- 1. special files never block ------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
@pytest.mark.parametrize("reader", [sniff_kind, image_size, read_image, sha256_file],
                         ids=["sniff_kind", "image_size", "read_image", "sha256_file"])
def test_fifo_is_refused_at_once(tmp_path, reader):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    try:
        with pytest.raises(ImageReadError) as caught:
            within(5, lambda: reader(fifo))
        assert "is a named pipe (FIFO), not a regular file" in str(caught.value)
        assert "pipe.png" in str(caught.value)
    finally:  # if a reader did block, a writer lets its thread finish
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


def test_device_and_folder_are_refused(tmp_path):
    with pytest.raises(ImageReadError, match="is a device, not a regular file"):
        within(5, lambda: read_image("/dev/zero"))  # would otherwise read forever
    folder = tmp_path / "folder.png"
    folder.mkdir()
    with pytest.raises(ImageReadError, match="folder"):
        within(5, lambda: read_image(folder))


# -- 2. a small image followed by gigabytes: only the image is read -------------------------------

def test_png_with_sparse_tail_reads_only_up_to_iend(tmp_path):
    array = small_image(1)
    path = write_png(tmp_path / "padded.png", array)
    size = path.stat().st_size
    with_sparse_tail(path)
    image, peak = peak_bytes(lambda: within(10, lambda: read_image(path)))
    np.testing.assert_array_equal(image.array, array)
    assert image.metadata["ignored_trailing_bytes"] == SPARSE_TAIL - size
    assert peak < 16 * MiB, f"{peak:,} bytes allocated for a 64x64 image"
    assert within(5, lambda: image_size(path)) == (64, 64)


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_jpeg_and_bmp_with_sparse_tail_read_a_bounded_prefix(tmp_path, suffix):
    array = small_image(2)
    path = with_sparse_tail(write_png(tmp_path / f"padded{suffix}", array))
    image, peak = peak_bytes(lambda: within(10, lambda: read_image(path)))
    assert image.array.shape == (64, 64)
    if suffix == ".bmp":
        np.testing.assert_array_equal(image.array, array)
    assert peak < 200 * MiB, f"{peak:,} bytes allocated for a 64x64 image"


def test_tiff_with_sparse_tail_reads_only_its_strips(tmp_path):
    array = np.random.default_rng(3).integers(0, 65535, (64, 64), dtype=np.uint16)
    path = tmp_path / "padded.tif"
    tifffile.imwrite(path, array, compression="zlib")
    with_sparse_tail(path)
    image, peak = peak_bytes(lambda: within(10, lambda: read_image(path)))
    np.testing.assert_array_equal(image.array, array)
    assert peak < 16 * MiB


def test_tiff_strip_declaring_gigabytes_is_refused(tmp_path):
    path = tmp_path / "liar.tif"
    tifffile.imwrite(path, small_image(4), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags["StripByteCounts"]
        offset, code = tag.valueoffset, {4: "<I", 16: "<Q"}[int(tag.dtype)]
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(struct.pack(code, SPARSE_TAIL - 4096))  # the strip "runs" to the file's end
    with_sparse_tail(path)
    error, peak = refused(lambda: within(10, lambda: read_image(path)))
    assert "liar.tif" in str(error) and "declare" in str(error)
    assert peak < 16 * MiB


def test_png_without_iend_over_zero_padding_is_refused_fast(tmp_path):
    data = (write_png(tmp_path / "cut.png", small_image(5))).read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[:-12])  # IEND removed: the walk meets 3 GiB of empty chunks
    with_sparse_tail(path)
    with pytest.raises(ImageReadError, match="cut.png.*IEND"):
        within(10, lambda: read_image(path))


# -- 3. limits count decoded bytes (channels and bit depth), not pixels -----------------------------

def test_rgba16_png_of_16384_squared_is_refused_by_bytes_from_its_header(tmp_path):
    path = zero_png(tmp_path / "bomb.png", 16384, 16384)  # 2 GiB decoded from ~2 MB of file
    assert path.stat().st_size < 4 * MiB
    assert 16384 * 16384 <= DEFAULT_MAX_PIXELS  # the pixel limit alone lets it through
    error, peak = refused(lambda: within(10, lambda: read_image(path, max_bytes=1024 * MiB)))
    assert peak < 16 * MiB
    message = str(error)
    assert "bomb.png" in message and "16384x16384 x 4 channel(s) x 16-bit" in message
    assert "2,048 MiB" in message and "1,024 MiB" in message and "SEGGUI_MAX_IMAGE_MB" in message
    assert within(5, lambda: image_size(path)) == (16384, 16384)  # header reads stay cheap


def test_the_same_png_at_8_bit_grey_passes_the_byte_limit_it_fails_at_16_bit_rgba(tmp_path):
    grey = zero_png(tmp_path / "grey.png", 1024, 1024, depth=8, colour=0)  # 1 MiB decoded
    rgba = zero_png(tmp_path / "rgba.png", 1024, 1024, depth=16, colour=6)  # 8 MiB decoded
    assert read_image(grey, max_bytes=4 * MiB).array.shape == (1024, 1024)
    with pytest.raises(ImageReadError, match="rgba.png.*8 MiB decoded, above the limit of 4 MiB"):
        read_image(rgba, max_bytes=4 * MiB)
    image = read_image(rgba)
    assert image.array.dtype == np.uint16 and image.array.shape == (1024, 1024, 4)


def test_tiff_byte_limit_counts_samples_and_dtype(tmp_path):
    path = tmp_path / "deep.tif"
    array = np.zeros((40, 64, 64), np.float64)  # 1.3 MB decoded for 4,096 pixels
    tifffile.imwrite(path, array, photometric="minisblack", metadata={"axes": "CYX"})
    with pytest.raises(ImageReadError, match="deep.tif.*40 channel.*64-bit.*SEGGUI_MAX_IMAGE_MB"):
        read_image(path, max_bytes=1_000_000)
    assert read_image(path).array.shape == (64, 64, 40)


def test_embedded_image_bytes_have_the_byte_limit_too(tmp_path):
    data = zero_png(tmp_path / "embedded.png", 1024, 1024, depth=16, colour=6).read_bytes()
    with pytest.raises(FormatError, match="imageData.*above the limit.*SEGGUI_MAX_IMAGE_MB"):
        decode_image_bytes(data, tmp_path / "a.json", "imageData", max_bytes=4 * MiB)
    assert decode_image_bytes(data, tmp_path / "a.json", "imageData").dtype == np.uint16


def test_env_variables_set_the_default_limits():
    code = ("from seggui.core.imageio import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_PIXELS;"
            "print(DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_PIXELS)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO,
                            env=dict(os.environ, SEGGUI_MAX_IMAGE_MB="512", SEGGUI_MAX_PIXELS="1000"))
    assert result.stdout.split() == [str(512 * MiB), "1000"], result.stderr


# -- 4. Pillow's own guard stays on for the whole process ---------------------------------------

def test_pillow_bomb_guard_survives_seggui_reads(tmp_path):
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    assert before is not None
    jpeg = tmp_path / "a.jpg"
    cv2.imwrite(str(jpeg), small_image(6))
    bmp = write_png(tmp_path / "a.bmp", small_image(7))
    png = write_png(tmp_path / "a.png", small_image(8))
    for path in (jpeg, bmp, png):
        read_image(path)
        image_size(path)
    decode_image_bytes(jpeg.read_bytes(), tmp_path / "x.json", "imageData")
    assert Image.MAX_IMAGE_PIXELS == before
    bomb = zero_png(tmp_path / "bomb.png", 20000, 20000, depth=8, colour=0)  # 400 M pixels
    with pytest.raises(Image.DecompressionBombError):
        Image.open(bomb)


def test_big_but_allowed_images_still_read_without_pillow_complaining(tmp_path):
    from PIL import Image

    # A JPEG header claiming 15000x15000 (225 M pixels: Pillow's Image.open refuses it).
    data = bytearray(cv2.imencode(".jpg", small_image(9, (16, 16)))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 15000, 15000)
    big = tmp_path / "big.jpg"
    big.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        assert image_size(big) == (15000, 15000)
        grey = zero_png(tmp_path / "grey.png", 10000, 9500, depth=8, colour=0)  # 95 M: over Pillow's warning
        assert read_image(grey).array.shape == (9500, 10000)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(big)


def test_palette_label_images_read_with_pillows_guard_on(tmp_path, monkeypatch):
    from PIL import Image

    from seggui.formats.masks import read_label_image

    labels = (small_image(12) % 5).astype(np.uint8)
    path = tmp_path / "labels.png"
    image = Image.frombytes("P", (64, 64), labels.tobytes())
    image.putpalette([value for index in range(256) for value in (index, 255 - index, 0)])
    image.save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the guard, tightened so 64x64 trips it
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path)
    np.testing.assert_array_equal(read_label_image(path), labels)  # seggui's own limit applies
    assert Image.MAX_IMAGE_PIXELS == 1000


# -- 5. a batch reports the bad image by name and goes on ----------------------------------------

def test_predict_batch_reports_hostile_images_and_segments_the_rest(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("good1.png", "good2.png"):
        blobs = np.zeros((96, 96), np.uint8)
        cv2.circle(blobs, (30, 30), 12, 220, -1)
        cv2.circle(blobs, (65, 60), 15, 220, -1)
        write_png(folder / name, blobs)
    with_sparse_tail(write_png(folder / "padded.png", small_image(10, (96, 96))))
    zero_png(folder / "bomb.png", 16384, 16384)
    (folder / "text.png").write_text("not an image")
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.png")
    out = tmp_path / "out"
    env = dict(os.environ, SEGGUI_MAX_IMAGE_MB="1024", OMP_NUM_THREADS="1")
    start = time.monotonic()
    result = subprocess.run(seggui_command("predict", str(folder), "--model", "classic",
                                           "--device", "cpu", "--out", str(out)),
                            capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    seconds = time.monotonic() - start
    child_peak_kib = peak_kib(result.stderr)
    assert result.returncode == 1, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["good1.png", "good2.png", "padded.png"], result.stderr
    assert "bomb.png" in result.stderr and "SEGGUI_MAX_IMAGE_MB" in result.stderr
    assert "text.png" in result.stderr
    if hasattr(os, "mkfifo"):
        assert "pipe.png" in result.stderr and "named pipe (FIFO)" in result.stderr
    total = 6 if hasattr(os, "mkfifo") else 5
    assert f"3 of {total} images segmented" in result.stderr
    assert seconds < 100
    if child_peak_kib is not None:
        assert child_peak_kib * 1024 < 2 * 1024**3, f"the child process peaked at {child_peak_kib:,} KiB"


def test_gui_prediction_job_reports_a_fifo_and_continues(tmp_path):
    pytest.importorskip("PySide6")
    from seggui.jobs.prediction import PredictionTask, predict_images

    class Context:  # what predict_images uses of a JobContext, without a Qt job around it
        cancelled = False

        def check_cancelled(self):
            pass

        def progress(self, done, total=0, text=""):
            pass

    good = write_png(tmp_path / "good.png", small_image(11))
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    tasks = [PredictionTask("a", "pipe.png", path=fifo), PredictionTask("b", "good.png", path=good)]
    results = within(60, lambda: predict_images(Context(), "classic", tasks, device="cpu"))
    assert "named pipe (FIFO)" in results[0].error and results[0].labels is None
    assert results[1].error is None and results[1].labels.shape == (64, 64)
