"""The architecture's rules, checked on the source (see docs/ARCHITECTURE.md).

1. The import-linter contracts in pyproject.toml ([tool.importlinter]): the layers
   core < formats < ml < jobs < ui < top level, no Qt or torch below ml, no Qt in ml, and no
   import cycles among the modules of any package (imports under `if TYPE_CHECKING:` never
   run and are not counted).
2. Type-only imports stay inside their own layer, so the layers hold for them too.
3. No module imports another module's private name (`from m import _name`, `m._name`):
   what one module shares with another is public. Objects' private attributes
   (`self._x`, `obj._x`) are a different matter and not checked here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "seggui"


def lint_imports_executable() -> str:
    """`lint-imports` from the interpreter's own environment (the venv running the tests)."""
    name = "lint-imports.exe" if sys.platform == "win32" else "lint-imports"
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.is_file() else name


def test_import_linter_contracts_are_kept():
    result = subprocess.run([lint_imports_executable(), "--no-cache"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"


def layers_contract() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pytest brings tomli there
        import tomli as tomllib
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["type"] == "layers")


def test_type_only_imports_respect_the_layers_too():
    """lint-imports leaves out imports under `if TYPE_CHECKING:` (they never run, so they make no
    cycle); they may point back within a layer, but never up to a higher layer."""
    import grimp

    contract = layers_contract()
    layers = []
    for layer in contract["layers"]:
        independent = "|" in layer
        tails = [t.strip() for t in layer.replace("|", ":").split(":")]
        layers.append(grimp.Layer(*tails, independent=independent))
    graph = grimp.build_graph("seggui")  # every import, type-only ones included
    illegal = graph.find_illegal_dependencies_for_layers(layers=layers, containers=set(contract["containers"]))
    assert not illegal, "imports against the layers:\n" + "\n".join(
        f"{d.importer} -> {d.imported}: " + "; ".join(
            " -> ".join([",".join(sorted(r.heads)), *r.middle, ",".join(sorted(r.tails))]) for r in d.routes)
        for d in sorted(illegal, key=str))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module an `from ... import` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def private_uses(module: str, path: Path, known: dict[str, Path]) -> list[str]:
    """`from seggui.x import _name`, `import seggui._x`, and `m._name` where m is a seggui module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    bound_modules: set[str] = set()  # names (dotted) that refer to a seggui module here
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("seggui"):
                    continue
                if any(is_private(part) for part in alias.name.split(".")):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: import {alias.name}")
                if alias.asname:
                    bound_modules.add(alias.asname)
                else:
                    parts = alias.name.split(".")
                    bound_modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        elif isinstance(node, ast.ImportFrom):
            source = absolute(node, module, path.name == "__init__.py")
            if not source.startswith("seggui"):
                continue
            for alias in node.names:
                if source != module and is_private(alias.name):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: from {source} import {alias.name}")
                if f"{source}.{alias.name}" in known:
                    bound_modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            base = dotted(node.value)
            if base is not None and base in bound_modules:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {base}.{node.attr}")
    return found


def dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def test_no_module_imports_another_modules_private_names():
    known = modules()
    found = [use for module, path in known.items() for use in private_uses(module, path, known)]
    assert not found, "private names used across modules (make them public or move them):\n" + "\n".join(found)
