"""The architecture's one-way arrows: core and formats know neither Qt nor torch; ml knows no Qt."""

import json
import subprocess
import sys

CHECK = """
import json, sys
import seggui.core, seggui.core.document, seggui.core.project, seggui.core.paint, seggui.core.imageio
import seggui.formats
after_core_formats = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'PySide6', 'shiboken6'))
import seggui.ml
import pkgutil, importlib
for package in (seggui.core, seggui.formats, seggui.ml):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):
        importlib.import_module(info.name)
qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'superqt'))
print(json.dumps({"core_formats": after_core_formats, "qt": qt}))
"""


def test_core_formats_ml_never_load_qt_and_core_formats_never_load_torch():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["qt"] == [], f"Qt reached core/formats/ml: {loaded['qt']}"
    assert loaded["core_formats"] == [], f"torch or Qt reached core/formats: {loaded['core_formats']}"
