"""Model files are data, never code: a pickle payload given as weights must not run."""

from __future__ import annotations

import json
import os
import pickle

import pytest

torch = pytest.importorskip("torch")

from seggui.core.errors import ModelError  # noqa: E402
from seggui.ml.registry import load_model  # noqa: E402


class Payload:
    """Unpickling this runs os.system and creates the marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def unet_folder(folder, card_changes=None):
    from seggui.ml.unet import UNet

    model = UNet(1, 3, 2, 4, True)
    folder.mkdir(parents=True)
    torch.save(model.state_dict(), folder / "weights.pt")
    card = {"format": 1, "name": folder.name, "kind": "unet", "task": "instances", "architecture": model.config,
            "normalization": {"method": "percentile", "low_percentile": 1.0, "high_percentile": 99.8},
            "postprocess": {}}
    card.update(card_changes or {})
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_malicious_weights_are_refused_and_never_run(tmp_path, writer):
    folder = unet_folder(tmp_path / "evil")
    marker = tmp_path / "pwned"
    payload = {"encoder.0.weight": Payload(marker)}
    if writer == "torch.save":
        torch.save(payload, folder / "weights.pt")
    else:
        with open(folder / "weights.pt", "wb") as handle:
            pickle.dump(payload, handle)
    with pytest.raises(ModelError) as caught:
        load_model(folder, "cpu")
    assert "weights.pt" in str(caught.value)
    assert not marker.exists(), "the pickle payload ran"


@pytest.mark.parametrize("changes, message", [
    ({"kind": "transformer9000"}, "unknown model kind"),
    ({"architecture": {"in_channels": 1, "classes": 3, "depth": "four", "width": 4}}, "depth"),
    ({"format": 99}, "newer"),
])
def test_invalid_model_card_is_rejected(tmp_path, changes, message):
    folder = unet_folder(tmp_path / "bad", changes)
    with pytest.raises(ModelError) as caught:
        load_model(folder, "cpu")
    assert message in str(caught.value) and "card.json" in str(caught.value), str(caught.value)
