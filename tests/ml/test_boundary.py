import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ml_never_loads_qt():
    code = (
        "import sys, seggui.ml.registry, seggui.ml.inference, seggui.ml.training.trainer, seggui.ml.classic, "
        "seggui.ml.torchvision_models, seggui.ml.cli_predict, seggui.ml.cli_train, seggui.ml.cli_evaluate, "
        "seggui.ml.cli_models\n"
        "seggui.ml.registry.list_models()\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'PyQt'))]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr


def test_module_sizes_stay_reviewable():
    for path in (REPO / "seggui" / "ml").rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 500, path
