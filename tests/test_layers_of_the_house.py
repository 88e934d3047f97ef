"""The layers of the house (DESIGN.md): every import inside glassnet points upward.

backend → tensor/autograd → ops → layers → models → ... → serve → cli. A module may import
from its own rank or any rank above it, never below: ops never import layers, the engine never
imports serve or cli. The package front (glassnet/__init__.py) re-exports everything and is
exempt.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "glassnet"

# The lower the number, the higher up the house (imported by more, importing less).
RANKS = {
    "backend": 0,
    "checks": 0,
    "memory": 0,
    "parallel": 0,
    "tensor": 1,
    "autograd": 1,
    "gradcheck": 2,
    "ops": 2,
    "initializers": 3,
    "regularizers": 3,
    "constraints": 3,
    "activations": 3,
    "layers": 4,
    "losses": 5,
    "metrics": 5,
    "optimizers": 5,
    "callbacks": 5,
    "models": 6,
    "applications": 7,
    "datasets": 7,
    "data": 7,
    "inspect": 8,
    "utils": 8,  # keras.utils' home: plot_model draws models, so it sits with inspect
    "export": 9,
    "transfer": 9,  # fine-tuning: imports ONNX networks (export) and trains them
    "distributed": 10,
    "serve": 11,
    "cli": 12,
}


def _part(module: str) -> str:
    """glassnet.ops.conv -> "ops"; glassnet.cli -> "cli"."""
    return module.split(".")[1]


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "glassnet":
                names = [f"glassnet.{alias.name}" for alias in node.names]
            found += [(node.lineno, n) for n in names if n.startswith("glassnet.")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("glassnet.")]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_every_part_has_a_rank():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert parts <= set(RANKS), f"give these a place in the house: {parts - set(RANKS)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_upward(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    wrong = [
        f"line {line}: {name}"
        for line, name in _imports(path)
        if _part(name) in RANKS and RANKS[_part(name)] > RANKS[own]
    ]
    assert not wrong, f"{own} (rank {RANKS[own]}) imports from below it: {wrong}"
