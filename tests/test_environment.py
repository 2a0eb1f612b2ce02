"""The locked environment: `requirements.lock` pins what pyproject.toml asks for, within its
ranges, and the README names the versions the lock holds."""

import re
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


ROOT = Path(__file__).resolve().parents[1]
# The packages whose versions the README names as tested.
README_PACKAGES = (
    "jax", "jaxlib", "equinox", "diffrax", "optax", "lineax", "jaxtyping", "beartype", "numpy",
)  # fmt: skip


def _locked() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, version = line.partition("==")
        assert separator, f"requirements.lock: {line!r} is not an exact pin `name==version`"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _requirements(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize("requirement", _requirements(("dev", "docs")), ids=str)
def test_every_requirement_is_pinned_within_its_range(requirement):
    pins = _locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement} is not in requirements.lock: run `make lock`"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"requirements.lock pins {name}=={pins[name]}, outside pyproject.toml's {requirement}"
    )


def test_the_readme_names_the_locked_versions():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- locked versions -->\n(.*?)\n<!-- end locked versions -->", readme)
    assert block, "README.md lost its <!-- locked versions --> block"
    named = dict(item.rsplit(" ", 1) for item in block.group(1).split(", "))
    pins = _locked()
    assert tuple(named) == README_PACKAGES
    for package, version in named.items():
        assert Version(version) == pins[canonicalize_name(package)], (
            f"README.md says {package} {version}; requirements.lock pins {pins[package]}"
        )
