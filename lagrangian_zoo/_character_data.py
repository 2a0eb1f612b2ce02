"""Deep Lagrangian Networks' "character" data: a two-link arm writing letters, with its torques."""

import importlib.resources
import io
import zipfile
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Shaped


_CHARACTER_FILE = "delan_character.npz"
_DEFAULT_TEST_LETTERS = ("e", "q", "v")
# field in the file -> (name in TorqueSamples, trailing shape)
_FIELDS = {
    "t": ("t", ()),
    "qp": ("q", (2,)),
    "qv": ("q_t", (2,)),
    "qa": ("q_tt", (2,)),
    "tau": ("tau", (2,)),
    "m": ("inertial", (2,)),
    "c": ("coriolis", (2,)),
    "g": ("gravity", (2,)),
    "mass_matrix": ("mass_matrix", (2, 2)),
    "p": ("momentum", (2,)),
    "pdot": ("momentum_rate", (2,)),
}


class TorqueSamples(NamedTuple):
    r"""Samples of a two-link arm's motion and the motor torques behind it, as NumPy arrays.

    Rows of one letter are contiguous and in time order; `letter` names each row's letter.

    - `t` `(N,)`: the time within its letter (s);
    - `q`, `q_t`, `q_tt` `(N, 2)`: joint angles, velocities and accelerations;
    - `tau` `(N, 2)`: the motor torques, $\tau = H(q)\ddot q + c(q, \dot q) + g(q)$;
    - `inertial`, `coriolis`, `gravity` `(N, 2)`: the three parts of the torques;
    - `mass_matrix` `(N, 2, 2)`: $H(q)$;
    - `momentum`, `momentum_rate` `(N, 2)`: $p = H(q)\dot q$ and $\dot p$;
    - `letter` `(N,)`: the letter each row belongs to.
    """

    t: Float[np.ndarray, " N"]
    q: Float[np.ndarray, "N 2"]
    q_t: Float[np.ndarray, "N 2"]
    q_tt: Float[np.ndarray, "N 2"]
    tau: Float[np.ndarray, "N 2"]
    inertial: Float[np.ndarray, "N 2"]
    coriolis: Float[np.ndarray, "N 2"]
    gravity: Float[np.ndarray, "N 2"]
    mass_matrix: Float[np.ndarray, "N 2 2"]
    momentum: Float[np.ndarray, "N 2"]
    momentum_rate: Float[np.ndarray, "N 2"]
    letter: Shaped[np.ndarray, " N"]

    @property
    def letters(self) -> tuple[str, ...]:
        """The letters, in the order their rows come."""
        return tuple(dict.fromkeys(self.letter.tolist()))


def _read_character_file() -> dict[str, np.ndarray]:
    resource = importlib.resources.files("lagrangian_zoo").joinpath("data", _CHARACTER_FILE)
    try:
        with np.load(io.BytesIO(resource.read_bytes()), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(
            f"{_CHARACTER_FILE}: the file shipped with lagrangian_zoo cannot be read as a NumPy "
            f"archive ({error}); reinstall the package."
        ) from error
    expected = [*_FIELDS, "label"]
    missing = [name for name in expected if name not in arrays]
    if missing:
        raise ValueError(
            f"{_CHARACTER_FILE}: the arrays {missing} are missing; expected {expected}, found "
            f"{sorted(arrays)}. Reinstall the package."
        )
    rows = arrays["label"].shape[0]
    for name, (_, trailing) in _FIELDS.items():
        if arrays[name].shape != (rows, *trailing) or arrays[name].dtype.kind != "f":
            raise ValueError(
                f"{_CHARACTER_FILE}: `{name}` has shape {arrays[name].shape} and dtype "
                f"{arrays[name].dtype}; expected floats of shape {(rows, *trailing)}."
            )
    return arrays


def delan_character_dataset(
    *, test_letters: Sequence[str] = _DEFAULT_TEST_LETTERS
) -> tuple[TorqueSamples, TorqueSamples]:
    r"""The "character" data set of Deep Lagrangian Networks: a simulated two-link planar arm
    (the arm of [`lagrangian_zoo.systems.TwoLinkArm`][] with DeLaN's parameters) traces 20
    letters, 2913 samples every 0.04 s, with the motor torques and their true decomposition
    into inertial, Coriolis and centrifugal, and gravitational parts.

    Split by letters: by default the repository's split, the letters `"e"`, `"q"` and `"v"`
    for testing and the other 17 for training. Shipped with the package (MIT licence; see
    `lagrangian_zoo/data/README.md`).

    **Arguments:**

    - `test_letters`: the letters held out for testing, each one of the 20 in the data.

    **Returns:** `(train, test)`, two
    [`TorqueSamples`][lagrangian_zoo.TorqueSamples] of float64 NumPy arrays.

    ??? cite "Reference"

        Lutter, Ritter, Peters (2019), *Deep Lagrangian Networks*: BibTeX under
        [`lagrangian_zoo.models.DeLaN`][]; the data from its repository
        `milutter/deep_lagrangian_networks` (`data/character_data.pickle`).
    """
    arrays = _read_character_file()
    label = arrays["label"].astype(str)
    known = list(dict.fromkeys(label.tolist()))
    if isinstance(test_letters, str) or not isinstance(test_letters, Sequence):
        raise TypeError(
            f"`test_letters` must be a sequence of letters such as ('e', 'q', 'v'), got "
            f"{test_letters!r}."
        )
    unknown = [letter for letter in test_letters if letter not in known]
    if unknown or not test_letters or len(set(test_letters)) == len(known):
        raise ValueError(
            f"`test_letters` must be some, not all, of the letters {''.join(sorted(known))}; "
            f"got {tuple(test_letters)!r}."
        )
    held_out = np.isin(label, list(test_letters))

    def part(rows: np.ndarray) -> TorqueSamples:
        fields = {
            new: np.asarray(arrays[old][rows], np.float64) for old, (new, _) in _FIELDS.items()
        }
        return TorqueSamples(**fields, letter=label[rows])

    return part(~held_out), part(held_out)


__all__ = ["TorqueSamples", "delan_character_dataset"]
