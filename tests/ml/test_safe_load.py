import os
import pickle

import pytest
import torch

from seggui.core.errors import ModelError
from seggui.ml.registry import load_model
from seggui.ml.safe_load import load_weights

from .helpers import save_tiny_unet


class Payload:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_code_running_pickle_is_refused(tmp_path):
    folder = save_tiny_unet(tmp_path / "evil")
    marker = tmp_path / "pwned"
    with open(folder / "weights.pt", "wb") as handle:
        pickle.dump({"conv.weight": Payload(marker)}, handle)
    with pytest.raises(ModelError) as error:
        load_model(folder, "cpu")
    assert "weights.pt" in str(error.value) and "refused" in str(error.value)
    assert not marker.exists()


def test_torch_saved_object_with_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned2"
    path = tmp_path / "obj.pt"
    torch.save({"state_dict": Payload(marker)}, path)
    with pytest.raises(ModelError, match="refused"):
        load_weights(path)
    assert not marker.exists()


def test_corrupt_weights_give_a_clear_error(tmp_path):
    folder = save_tiny_unet(tmp_path / "corrupt")
    data = (folder / "weights.pt").read_bytes()
    (folder / "weights.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError) as error:
        load_model(folder, "cpu")
    assert str(folder / "weights.pt") in str(error.value)
    assert "corrupt" in str(error.value)


def test_text_file_as_weights(tmp_path):
    folder = save_tiny_unet(tmp_path / "text")
    (folder / "weights.pt").write_text("hello")
    with pytest.raises(ModelError, match="corrupt"):
        load_model(folder, "cpu")


def test_weights_of_another_architecture(tmp_path):
    folder = save_tiny_unet(tmp_path / "mismatch", width=4)
    torch.save(save_and_get_state(tmp_path), folder / "weights.pt")
    with pytest.raises(ModelError, match="do not match"):
        load_model(folder, "cpu")


def save_and_get_state(tmp_path):
    from seggui.ml.unet import UNet

    return UNet(1, 3, 2, 8, True).state_dict()
