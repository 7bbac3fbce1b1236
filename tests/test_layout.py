"""The house's shape: import directions between rooms, no import circles, every package in the
wheel (DESIGN.md §3). Static: reads the source with `ast`, imports nothing of ours."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "alphacdn"
ROOMS = ("transform", "engine", "cache", "models")
#: which rooms each room may import (the wiring, `alphacdn` itself, may import every room)
ALLOWED: dict[str, set[str]] = {
    "transform": set(),
    "engine": {"transform"},
    "cache": set(),
    "models": set(),
}


def _sources() -> list[Path]:
    """Every `.py` file under `alphacdn/`, through the room symlinks (`rglob` does not follow
    them before Python 3.13)."""
    return sorted(
        Path(d) / f
        for d, subdirs, files in os.walk(PACKAGE, followlinks=True)
        if "__pycache__" not in d
        for f in files
        if f.endswith(".py")
    )


def _modules() -> dict[str, Path]:
    """Every module of the installed shape `alphacdn.*` (rooms reached through their symlinks)."""
    found: dict[str, Path] = {}
    for path in _sources():
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = ["alphacdn", *rel.parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else "wiring"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> Iterator[tuple[str, int, bool]]:
    """(imported module of ours, line, runs at import time) for every import in `path`."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def resolve(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        # `from pkg import name`: name may be a submodule
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]

    def walk(nodes: list[ast.stmt], eager: bool) -> Iterator[tuple[str, int, bool]]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                for name in resolve(node):
                    while name and name not in MODULES:
                        name = name.rpartition(".")[0]
                    if name.startswith("alphacdn"):
                        yield name, node.lineno, eager
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.body, False)
                yield from walk(node.orelse, eager)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(node.body, False)
            elif hasattr(node, "body"):
                for attr in ("body", "orelse", "finalbody", "handlers"):
                    yield from walk(getattr(node, attr, []) or [], eager)

    yield from walk(tree.body, True)


def test_rooms_import_only_what_design_allows() -> None:
    wrong: list[str] = []
    for module, path in MODULES.items():
        room = _room(module)
        if room == "wiring":
            continue
        for target, line, _ in _imports(module, path):
            other = _room(target)
            if other == room:
                continue
            if other == "wiring" or other not in ALLOWED[room]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {room} imports {target}")
    assert not wrong, "forbidden import direction (DESIGN.md §3):\n" + "\n".join(wrong)


def test_no_import_circles() -> None:
    """Import-time edges only (imports inside functions or under TYPE_CHECKING do not run when
    the module loads); a package's `__init__` re-exporting its own modules is not a circle."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, _, eager in _imports(module, path):
            if eager and target != module and not module.startswith(target + "."):
                edges[module].add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                cycles.append([*stack[stack.index(n) :], n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, "import circles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_every_package_is_in_the_wheel(tmp_path: Path) -> None:
    packages = {"/".join(m.split(".")) for m, p in MODULES.items() if p.name == "__init__.py"}
    dirs = {str(p.parent.relative_to(ROOT)) for p in _sources()}
    assert dirs <= packages, f"folders with modules but no __init__.py: {sorted(dirs - packages)}"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    if built.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{built.stderr[-2000:]}")
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    in_wheel = {n.rpartition("/")[0] for n in names if n.endswith("__init__.py")}
    assert packages <= in_wheel, f"missing from the wheel: {sorted(packages - in_wheel)}"
    modules = {str(p.relative_to(ROOT)) for p in MODULES.values()}
    missing = {m for m in modules if "/".join(("alphacdn", *Path(m).parts[1:])) not in names}
    assert not missing, f"modules missing from the wheel: {sorted(missing)}"
