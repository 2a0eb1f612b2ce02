"""The import graph points one way: each module imports only from lower layers.

Read from the source (the `from .x import y` statements), so a new upward import fails here
before it makes a cycle.
"""

import ast
import pathlib

import pytest


PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "lagrangian_zoo"

# Lowest first. A module may import modules of strictly lower layers, and, inside `systems`
# or `models`, the private modules of its own subpackage.
LAYERS = [
    {"_io"},
    {"_validation"},
    {
        "_custom_types",
        "_cache",
        "_distributed",
        "_source",
        "_fingerprint",
        "_character_data",
        "_trajectory_file",
    },
    {"models._triangular"},
    {"_sparse", "_verlet", "_implicit_midpoint", "models._mlp", "models._normaliser"},
    {"_composition", "_gauss_legendre"},
    {"_mechanics", "_constraints", "_torque_decomposition"},
    {"systems", "models"},
    # Above the models: a model says which states it takes, and rollout reads it.
    {"_rollout", "_inverse_dynamics", "_energy_shaping"},
    {"metrics", "plots", "_input_dynamics"},
    {"_data", "_checkpoint"},
    {"_windows", "_pixels", "_canonical_stream", "_input_data"},
    {"_training"},
    {"_experiment", "_pixel_training"},
    {"_demo"},
    {"cli"},
]


def _layer_of(module: str) -> int:
    for rank, members in enumerate(LAYERS):
        if module in members:
            return rank
    head = module.split(".")[0]
    for rank, members in enumerate(LAYERS):
        if head in members:
            return rank
    raise AssertionError(f"module {module!r} has no layer in tests/test_layers.py")


def _imports() -> dict[str, set[str]]:
    """Each module of the package (dotted, without the package name) -> what it imports."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            continue
        module = ".".join(parts)
        parent = parts[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            base = list(parent[: len(parent) - (node.level - 1)])
            if node.module:
                targets.add(".".join(base + node.module.split(".")))
            else:
                targets.update(".".join(base + [alias.name]) for alias in node.names)
        graph[module] = targets
    return graph


GRAPH = _imports()


def test_every_module_has_a_layer():
    for module in GRAPH:
        _layer_of(module)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module):
    rank = _layer_of(module)
    for target in GRAPH[module]:
        assert target, f"{module} imports the package face (`from . import ...` of a name)"
        same_subpackage = "." in module and target.split(".")[0] == module.split(".")[0]
        if same_subpackage:
            continue
        assert _layer_of(target) < rank, (
            f"{module} (layer {rank}) imports {target} (layer {_layer_of(target)}): imports "
            "must point to lower layers"
        )


def test_no_module_imports_the_package_face_for_names():
    # `from . import __version__` (or any name of lagrangian_zoo/__init__.py) would make the
    # face a dependency of the layers below it.
    face_names = {"__version__", "euler_lagrange", "rollout", "fit", "Dataset"}
    for module, targets in GRAPH.items():
        assert not any(t in face_names for t in targets), module


def test_the_check_can_fail():
    # An upward edge, as the checker sees it, is refused.
    assert _layer_of("_mechanics") < _layer_of("_training")
    assert _layer_of("cli") == len(LAYERS) - 1
