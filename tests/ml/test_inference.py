import numpy as np
import pytest
import torch

from seggui.ml.inference import PredictionCancelled, PredictOptions, tile_starts
from seggui.ml.registry import load_model

from .helpers import disks_image, save_tiny_unet


@pytest.fixture
def tiny(tmp_path):
    return load_model(save_tiny_unet(tmp_path / "tiny", depth=2, width=4), "cpu", threads=2)


def test_prediction_types_and_shapes(tiny):
    image, _ = disks_image((100, 130))
    prediction = tiny.predict(image)
    assert prediction.labels.shape == (100, 130)
    assert prediction.labels.dtype in (np.uint16, np.uint32)
    assert prediction.probability.shape == (100, 130) and prediction.probability.dtype == np.float32
    assert set(prediction.timings) == {"normalize", "network", "postprocess"}
    assert set(prediction.scores) == set(np.unique(prediction.labels[prediction.labels > 0]).tolist())


@pytest.mark.parametrize("image", [np.zeros((40, 50, 4), np.uint8), np.ones((33, 17), np.float32),
                                   np.zeros((70, 60, 3), np.uint16)])
def test_odd_sizes_and_channels(tiny, image):
    prediction = tiny.predict(image)
    assert prediction.labels.shape == image.shape[:2]


def test_tile_starts_cover_the_image():
    assert tile_starts(100, 128, 16) == [0]
    starts = tile_starts(352, 128, 32)
    assert starts[0] == 0 and starts[-1] == 352 - 128
    assert all(b - a <= 128 - 32 for a, b in zip(starts, starts[1:]))


def test_tiled_and_untiled_agree_away_from_seams(tiny):
    rng = np.random.default_rng(1)
    planes = rng.random((1, 352, 352), dtype=np.float32)
    whole = tiny.dense_maps(planes, PredictOptions(tile=1024), None, None)
    tiled = tiny.dense_maps(planes, PredictOptions(tile=128, overlap=32), None, None)
    assert whole.shape == tiled.shape == (4, 352, 352)
    # Pixels far (> 40 px, beyond the tiny net's receptive field) from every inner tile edge.
    starts = tile_starts(352, 128, 32)
    edges = sorted({s for s in starts if s > 0} | {s + 128 for s in starts if s + 128 < 352})
    coordinate = np.arange(352)
    far = np.min(np.abs(coordinate[:, None] - np.array(edges)[None]), axis=1) > 40
    interior = far[:, None] & far[None, :]
    assert interior.sum() > 1000
    np.testing.assert_allclose(tiled[:, interior], whole[:, interior], atol=1e-4)
    # Seams are blended, not wildly off.
    assert np.abs(tiled - whole).mean() < 0.05


def test_progress_and_cancel(tiny):
    image = np.random.default_rng(0).random((200, 200)).astype(np.float32)
    calls = []
    tiny.predict(image, PredictOptions(tile=64, overlap=16, batch_size=2), progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1] and calls[-1][1] > 1
    with pytest.raises(PredictionCancelled):
        tiny.predict(image, PredictOptions(tile=64), cancelled=lambda: True)


def test_flips_keep_shapes(tiny):
    image, _ = disks_image((64, 64))
    assert tiny.predict(image, PredictOptions(test_time_flips=True)).labels.shape == (64, 64)


def test_flips_by_default_only_where_they_stay_quick(tiny, monkeypatch):
    """Unasked, a CPU flips an image up to AUTO_FLIP_PIXELS and not a larger one; asked either
    way, it does as asked."""
    from seggui.ml import inference

    asked = []
    real = type(tiny)._maps
    monkeypatch.setattr(type(tiny), "_maps", lambda self, batch, flips, *rest: asked.append(flips) or real(self, batch, flips, *rest))
    monkeypatch.setattr(inference, "AUTO_FLIP_PIXELS", 64 * 64)
    small, _ = disks_image((64, 64))
    large, _ = disks_image((64, 65))
    for image, options, expected in ((small, None, True), (large, None, False),
                                     (small, PredictOptions(test_time_flips=False), False),
                                     (large, PredictOptions(test_time_flips=True), True)):
        asked.clear()
        tiny.predict(image, options)
        assert asked and set(asked) == {expected}


def test_semantic_unet(tmp_path):
    import json

    folder = save_tiny_unet(tmp_path / "semantic", distance_head=False)
    card = json.loads((folder / "card.json").read_text())
    card["task"] = "semantic"
    (folder / "card.json").write_text(json.dumps(card))
    prediction = load_model(folder, "cpu").predict(disks_image()[0])
    assert prediction.classes is not None and prediction.classes.max() <= 2
    assert prediction.labels.shape == prediction.classes.shape


def test_classic_finds_disks_bright_and_dark():
    predictor = load_model("classic", "cpu")
    for bright in (True, False):
        image, truth = disks_image((120, 160), ((30, 30), (30, 100), (90, 60), (85, 130)), radius=12,
                                   bright=bright)
        prediction = predictor.predict(image)
        from seggui.ml.metrics import average_precision

        assert prediction.labels.max() == 4
        assert average_precision(truth, prediction.labels) == 1.0


def test_classic_local_threshold():
    image, truth = disks_image((120, 160), ((30, 30), (30, 100), (90, 60)), radius=12)
    prediction = load_model("classic", "cpu").predict(image, PredictOptions(postprocess={"method": "local"}))
    assert prediction.labels.max() == 3


def test_channels_last_does_not_change_results(tmp_path):
    folder = save_tiny_unet(tmp_path / "m")
    predictor = load_model(folder, "cpu")
    x = torch.rand(1, 1, 64, 64)
    with torch.inference_mode():
        a = predictor.model(x)
        b = predictor.model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_4096_image_streams_tiles_in_bounded_memory(tmp_path):
    """Tiles go through the network one batch at a time; memory grows by the blended output
    planes (4 x 64 MB here) and one batch, not by the number of tiles."""
    import resource

    predictor = load_model(save_tiny_unet(tmp_path / "m", depth=1, width=2), "cpu", threads=2)
    batches = []
    predictor.model.register_forward_hook(lambda module, inputs, output: batches.append(inputs[0].shape[0]))
    planes = np.random.default_rng(0).random((1, 4096, 4096), dtype=np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    maps = predictor.dense_maps(planes, PredictOptions(tile=1024, overlap=32, batch_size=1), None, None)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert maps.shape == (4, 4096, 4096) and np.isfinite(maps[:, ::64, ::64]).all()
    assert len(batches) == 25 and max(batches) == 1
    assert grown_mb < 1200, grown_mb


def test_fold_batch_norm_keeps_outputs_and_removes_batch_norm():
    from seggui.ml.inference import fold_batch_norm
    from seggui.ml.unet import UNet

    torch.manual_seed(0)
    model = UNet(depth=2, width=4, distance_head=True)
    for module in model.modules():  # non-trivial running statistics, as after training
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    folded = fold_batch_norm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # a copy
    x = torch.rand(2, 1, 32, 32)
    with torch.inference_mode():
        assert torch.allclose(model(x), folded(x), atol=1e-5)


def test_fold_batch_norm_leaves_an_untraceable_model_as_it_is():
    from seggui.ml.inference import fold_batch_norm

    class Branching(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.norm = torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)

        def forward(self, x):
            return self.norm(self.conv(x)) if x.sum() > 0 else x  # control flow on values

    model = Branching().eval()
    assert fold_batch_norm(model) is model


def test_the_bundled_model_runs_with_batch_norm_folded():
    predictor = load_model("nuclei", "cpu", threads=2)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in predictor.model.modules())
