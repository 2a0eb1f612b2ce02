"""The benchmarks, the docs and the README use the public API only.

They are what a user copies to write the next experiment, so none of them may import a private
module (`lagrangian_zoo._experiment`, `lagrangian_zoo.models._normaliser`) or a private name
(`from lagrangian_zoo.models import _helper`, `lz._EXPORTS`). Scanned: every `.py` file under
`benchmarks/` and `docs/`, and the Python code blocks of `README.md` and the `.md` pages under
`docs/`.
"""

import ast
import pathlib
import re

import pytest

from test_docs import python_blocks


ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "lagrangian_zoo"
SCRIPTS = sorted(
    path
    for folder in ("benchmarks", "docs")
    for path in (ROOT / folder).rglob("*.py")
    if "results" not in path.relative_to(ROOT).parts
)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _private(part: str) -> bool:
    """A leading underscore, but not a dunder such as `__version__`."""
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _ours(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _attribute_chain(node: ast.expr) -> list[str] | None:
    """`["lz", "models", "_x"]` for `lz.models._x`; `None` if it is not rooted at a name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def private_uses(source: str) -> list[str]:
    """The private modules and names of the package that `source` imports or reaches."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # A block that is not Python on its own (shown, not run): judged by its text.
        pattern = rf"\b{PACKAGE}(?:\.\w+)*\._\w+|from\s+{PACKAGE}[\w.]*\s+import\s+[^\n]*\b_\w+"
        return re.findall(pattern, source)
    found = []
    # Names bound to the package or one of its modules (`lz`, `models`), to follow `lz._x`.
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _ours(alias.name):
                    continue
                if any(_private(part) for part in alias.name.split(".")):
                    found.append(f"import {alias.name}")
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else PACKAGE
                )
        elif isinstance(node, ast.ImportFrom) and node.module and _ours(node.module):
            if any(_private(part) for part in node.module.split(".")):
                found.append(f"from {node.module} import ...")
                continue
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"from {node.module} import {alias.name}")
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain = _attribute_chain(node)
        if chain and chain[0] in aliases and any(_private(part) for part in chain[1:]):
            found.append(".".join(chain))
    return sorted(set(found))


def _name(path: pathlib.Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_scan_finds_private_imports_and_names():
    bad = (
        "import lagrangian_zoo as lz\n"
        "from lagrangian_zoo._experiment import cast_floating\n"
        "from lagrangian_zoo.models._normaliser import Normaliser\n"
        "from lagrangian_zoo.models import _base\n"
        "import lagrangian_zoo._io\n"
        "from lagrangian_zoo import models as m\n"
        "lz._EXPORTS\n"
        "m._pairwise.AbstractPairwiseModel\n"
    )
    assert private_uses(bad) == [
        "from lagrangian_zoo._experiment import ...",
        "from lagrangian_zoo.models import _base",
        "from lagrangian_zoo.models._normaliser import ...",
        "import lagrangian_zoo._io",
        "lz._EXPORTS",
        "m._pairwise",
        "m._pairwise.AbstractPairwiseModel",
    ]
    good = (
        "import lagrangian_zoo as lz\nfrom lagrangian_zoo.models import LNN\n"
        "from _common import write_results\nprint(lz.__version__, lz.models.LNN, x._private)\n"
    )
    assert private_uses(good) == []
    assert private_uses("lz.rollout(model, y0, ...  # not Python\nlagrangian_zoo._io.x") == [
        "lagrangian_zoo._io"
    ]


@pytest.mark.parametrize("path", SCRIPTS, ids=_name)
def test_scripts_use_the_public_api(path):
    assert SCRIPTS, "no scripts found under benchmarks/ and docs/"
    uses = private_uses(path.read_text())
    assert not uses, f"{_name(path)} uses private parts of {PACKAGE}: {uses}"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_code_blocks_use_the_public_api(page):
    uses = {
        block.line: found for block in python_blocks(page) if (found := private_uses(block.code))
    }
    assert not uses, f"{_name(page)}: code blocks (by first line) use private parts: {uses}"


def test_dir_shows_the_public_names_only():
    import lagrangian_zoo as lz

    lz.rollout  # loads private submodules, which must stay hidden all the same
    dunders = {name for name in vars(lz) if name.startswith("__") and name.endswith("__")}
    assert dir(lz) == sorted(set(lz.__all__) | dunders)
    assert not {"importlib", "typing", "_EXPORTS"} & set(dir(lz))
    assert "ClassicRK4" in lz.__all__ and "ClassicRK4" in dir(lz)


# The mechanics' old class names, deprecated aliases for one release: what users copy must
# already use the functions.
DEPRECATED_CLASSES = (
    "EulerLagrange",
    "HamiltonianVectorField",
    "InverseLegendre",
    "LagrangianEnergy",
    "LagrangianVectorField",
    "LegendreHamiltonian",
    "MassMatrix",
    "Momentum",
)
_DEPRECATED_USE = re.compile(
    rf"\b(?:lz|{PACKAGE})\.(?:{'|'.join(DEPRECATED_CLASSES)})\b"
    rf"|from\s+{PACKAGE}\s+import\s+[^\n]*\b(?:{'|'.join(DEPRECATED_CLASSES)})\b"
)


def test_scripts_and_examples_use_no_deprecated_class_name():
    assert _DEPRECATED_USE.search("acc = lz.EulerLagrange(L)")
    assert _DEPRECATED_USE.search("from lagrangian_zoo import momenta, Momentum")
    assert not _DEPRECATED_USE.search("lz.euler_lagrange(L); lz.momenta(L); lz.MassGraph(e)")
    sources = {_name(path): path.read_text() for path in SCRIPTS}
    for page in PAGES:
        for block in python_blocks(page):
            sources[f"{_name(page)}:{block.line}"] = block.code
    uses = {
        where: found for where, code in sources.items() if (found := _DEPRECATED_USE.findall(code))
    }
    assert not uses, f"deprecated mechanics classes used (call their functions): {uses}"
