"""The house rules of the code, read from the import statements: edge/ depends on nothing else here,
train/ never on export/, and inside edge/ the loop uses neither its outputs nor the evaluation."""

import ast
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.arm64

ROOMS = ("loop", "outputs", "evaluation")


def imports_of(path: Path) -> set[str]:
    """The siamface modules a file imports, as dotted names under siamface (relative ones resolved)."""
    package = ["siamface", *path.relative_to(REPO).with_suffix("").parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.update(f"{module}.{a.name}" if not node.module else module for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("siamface.")}


def modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


@pytest.mark.parametrize("room", ROOMS)
def test_the_rooms_of_edge_import_one_way(room):
    # The loop is the base: outputs and evaluation build on it, never the other way; no room uses
    # what wires them together (runner, cli, config, enroll).
    forbidden = {"loop": ("outputs", "evaluation"), "outputs": ("evaluation",), "evaluation": ("outputs",)}[room]
    wiring = ("runner", "cli", "config", "enroll")
    for path in modules(f"edge/{room}"):
        for module in imports_of(path):
            parts = module.split(".")[2:]
            assert not parts or parts[0] not in (*forbidden, *wiring), f"{path.relative_to(REPO)} imports {module}"


@pytest.mark.parametrize(("folder", "never"), [("edge", ("train", "export")), ("train", ("export",))])
def test_the_device_never_imports_the_workstation_and_training_never_imports_export(folder, never):
    for path in modules(folder):
        for module in imports_of(path):
            assert module.split(".")[1] not in never, f"{path.relative_to(REPO)} imports {module}"
