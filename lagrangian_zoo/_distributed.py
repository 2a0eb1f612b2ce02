"""Data parallelism: batches sharded over a mesh of devices, parameters replicated.

Training uses JAX's own sharding. The devices form a one-dimensional
`jax.sharding.Mesh` with the axis `"batch"`; every minibatch is split along its first axis
over that axis (`NamedSharding(mesh, P("batch"))`), while parameters and optimizer state
are replicated on every device (`NamedSharding(mesh, P())`). `jax.jit` then partitions the
compiled training step (GSPMD): each device computes the loss and gradients of its share of
the batch, and the compiler inserts the reductions that make the gradient replicated again.

One process drives all of its local devices; several machines join through
`jax.distributed` (see `initialize` here), after which
`jax.devices()` lists the devices of every process and the same program runs on all of them.
"""

import os
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec
from jaxtyping import ArrayLike, PyTree


BATCH_AXIS = "batch"


def _check_devices(devices: Any) -> list[jax.Device]:
    if isinstance(devices, (str, bytes)) or not isinstance(devices, Sequence):
        raise TypeError(
            f"`devices` must be a sequence of JAX devices such as jax.devices(), got {devices!r}."
        )
    devices = list(devices)
    if not devices:
        raise ValueError("`devices` is empty: give at least one JAX device, e.g. jax.devices().")
    for device in devices:
        if not isinstance(device, jax.Device):
            raise TypeError(
                f"`devices` must hold JAX devices (from jax.devices()), got "
                f"{type(device).__name__} {device!r}."
            )
    if len(set(devices)) != len(devices):
        raise ValueError(f"`devices` lists a device more than once: {devices}.")
    return devices


def data_parallel_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-dimensional mesh over `devices`, with the axis `"batch"` for data parallelism.

    **Arguments:**

    - `devices`: the devices to use, in order; default `jax.devices()`, which after
        `jax.distributed` initialisation holds the devices of every process.

    **Returns:** a `jax.sharding.Mesh` of shape `(len(devices),)` and axis names
    `("batch",)`. Its axis is of type `Auto`: the compiler propagates shardings from the
    constraints it is given.

    !!! example

        ```python
        mesh = lz.data_parallel_mesh()
        model, history = lz.fit(model, data, steps=1000, key=key, mesh=mesh)
        ```
    """
    devices = _check_devices(jax.devices() if devices is None else devices)
    return Mesh(np.array(devices), (BATCH_AXIS,), axis_types=(AxisType.Auto,))


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    **options: Any,
) -> bool:
    """Joins this process to a multi-machine run through `jax.distributed.initialize`.

    Call it first in the program, before any JAX computation, on every machine. Afterwards
    `jax.devices()` lists the devices of every process, and
    [`lagrangian_zoo.fit`][] (with its default `devices="auto"`) shards each batch over all
    of them. Every process runs the same script on the same data and draws the same batches
    from the same key; each device computes only its own rows.

    Without arguments it joins the cluster that JAX detects by itself (Slurm, Open MPI,
    Cloud TPU, or the environment variable `JAX_COORDINATOR_ADDRESS`); when there is none,
    or when JAX has already started computing in this process, the program stays a single
    process and nothing happens. When the distributed system is already running, nothing
    happens either, so calling it twice is harmless.

    **Arguments:**

    - `coordinator_address`: `"host:port"` of process 0, reachable from every machine.
    - `num_processes`: the number of processes in the run.
    - `process_id`: this process's index, from 0 to `num_processes - 1`.
    - `options`: passed on to `jax.distributed.initialize` (`local_device_ids`,
        `cluster_detection_method`, `initialization_timeout`, ...).

    **Returns:** `True` if this call started the distributed system, `False` if it did
    nothing.

    !!! example

        ```python
        # on machine i of 2, before anything else:
        lz.distributed_initialize("10.0.0.1:1234", num_processes=2, process_id=i)
        model, history = lz.fit(model, data, steps=10_000, key=key, batch_size=512)
        ```
    """
    if jax.distributed.is_initialized():
        return False
    explicit = (
        any(value is not None for value in (coordinator_address, num_processes, process_id))
        or bool(options)
        or bool(os.environ.get("JAX_COORDINATOR_ADDRESS"))
    )
    if explicit:
        jax.distributed.initialize(
            coordinator_address=coordinator_address,
            num_processes=num_processes,
            process_id=process_id,
            **options,
        )
        return True
    try:
        jax.distributed.initialize()
    except RuntimeError as error:
        # JAX refuses once its backend is running: this program computes as one process.
        if "must be called before" in str(error):
            return False
        raise
    except ValueError as error:
        # No cluster environment was detected, so there is no coordinator to join.
        if "coordinator_address" in str(error):
            return False
        raise
    return True


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding that keeps a full copy of an array on every device of `mesh`."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """The sharding that splits an array's first axis over the `"batch"` axis of `mesh`."""
    return NamedSharding(mesh, PartitionSpec(BATCH_AXIS))


def batch_devices(mesh: Mesh) -> int:
    """The number of devices a batch is split over: the size of the `"batch"` axis."""
    return int(mesh.shape[BATCH_AXIS])


def _place(leaf: ArrayLike, sharding: NamedSharding) -> jax.Array:
    if sharding.is_fully_addressable:
        return jax.device_put(leaf, sharding)
    # Across processes every process holds the same value and hands over the slices that
    # its own devices keep.
    host = np.asarray(leaf)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def replicate(tree: PyTree, mesh: Mesh) -> PyTree:
    """Copies every array of a pytree (parameters, optimizer state) to every device of `mesh`.

    **Arguments:**

    - `tree`: any pytree; leaves that are not arrays are kept as they are.
    - `mesh`: the mesh, such as `data_parallel_mesh()`.

    **Returns:** the pytree with its arrays replicated over `mesh`. With several processes,
    every process must pass the same values.
    """
    sharding = replicated(mesh)
    return jax.tree.map(lambda x: _place(x, sharding) if eqx.is_array(x) else x, tree)


def check_batch_size(batch_size: int, mesh: Mesh, *, name: str = "batch_size") -> None:
    """Raises a `ValueError` unless `batch_size` splits evenly over the devices of `mesh`."""
    count = batch_devices(mesh)
    if batch_size % count:
        lower = batch_size // count * count
        suggestions = f"{lower} or {lower + count}" if lower else f"{count}"
        raise ValueError(
            f"`{name}`={batch_size} is not divisible by the {count} devices it is sharded over: "
            f"every device takes an equal share of each batch. Use a {name} that is a "
            f"multiple of {count} (such as {suggestions}), or choose devices whose number "
            f"divides {batch_size} (devices=... or mesh=...)."
        )


def shard_batch(batch: PyTree[ArrayLike], mesh: Mesh) -> PyTree[jax.Array]:
    """Splits every array of a batch along its first axis over the devices of `mesh`.

    **Arguments:**

    - `batch`: a pytree of arrays that share their first (batch) axis, such as `(y, dy)`.
        With several processes, every process passes the same whole batch.
    - `mesh`: the mesh, such as `data_parallel_mesh()`.

    **Returns:** the batch as arrays sharded along the `"batch"` axis.

    Raises `ValueError` when the batch size is not a multiple of the number of devices.
    """
    sharding = batch_sharded(mesh)

    def place(leaf):
        if not eqx.is_array(leaf):
            return leaf
        if np.ndim(leaf) == 0:
            raise ValueError(
                "`batch` holds a scalar; every array of a batch needs a first (batch) axis."
            )
        check_batch_size(int(np.shape(leaf)[0]), mesh, name="batch size")
        return _place(leaf, sharding)

    return jax.tree.map(place, batch)


def constrain_batch(tree: PyTree, mesh: Mesh) -> PyTree:
    """Inside `jax.jit`: asks the compiler to split the first axis of every array over `mesh`.

    Used on minibatches drawn inside a compiled loop, where no input sharding reaches them.
    """
    sharding = batch_sharded(mesh)
    return jax.tree.map(
        lambda x: jax.lax.with_sharding_constraint(x, sharding) if eqx.is_array(x) else x, tree
    )


def constrain_replicated(tree: PyTree, mesh: Mesh) -> PyTree:
    """Inside `jax.jit`: asks the compiler to keep every array of `tree` replicated."""
    sharding = replicated(mesh)
    return jax.tree.map(
        lambda x: jax.lax.with_sharding_constraint(x, sharding) if eqx.is_array(x) else x, tree
    )


def gather_to_host(tree: PyTree) -> PyTree:
    """Brings every JAX array of a pytree to host memory as a NumPy array.

    Replicated arrays are read from a local copy; arrays split over other processes are
    gathered from them (then every process must call this together).
    """
    from jax.experimental import multihost_utils

    def fetch(leaf):
        if not isinstance(leaf, jax.Array):
            return leaf
        if leaf.is_fully_addressable:
            return np.asarray(leaf)
        if leaf.is_fully_replicated:
            return np.asarray(leaf.addressable_data(0))
        return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))

    return jax.tree.map(fetch, tree)


def training_placement(
    devices: Any = "auto", mesh: Mesh | None = None
) -> tuple[Mesh | None, jax.Device | None]:
    """Where [`lagrangian_zoo.fit`][] runs: a mesh to shard over, or one device, or neither.

    **Arguments:**

    - `devices`: `"auto"` (every device, when there is more than one), `None` (JAX's default
        device), or a sequence of JAX devices.
    - `mesh`: a `jax.sharding.Mesh` with a `"batch"` axis, instead of `devices`.

    **Returns:** `(mesh, device)`: a mesh of more than one device for data parallelism (and
    `device=None`), or `mesh=None` with the single device to run on (`None`: the default one).
    """
    if mesh is not None:
        if not (isinstance(devices, str) and devices == "auto"):
            raise ValueError(
                "pass either `devices` or `mesh`, not both: the mesh already names its devices."
            )
        if not isinstance(mesh, Mesh):
            raise TypeError(f"`mesh` must be a jax.sharding.Mesh, got {type(mesh).__name__}.")
        if BATCH_AXIS not in mesh.axis_names:
            raise ValueError(
                f"`mesh` must have an axis named {BATCH_AXIS!r} to shard batches over, got axes "
                f"{mesh.axis_names}; build one with data_parallel_mesh(devices)."
            )
        if mesh.size == 1:
            return None, mesh.devices.flat[0]
        # Shardings are propagated by the compiler from constraints: that needs Auto axes.
        auto = (AxisType.Auto,) * len(mesh.axis_names)
        return Mesh(mesh.devices, mesh.axis_names, axis_types=auto), None
    if devices is None:
        return None, None
    if isinstance(devices, str):
        if devices != "auto":
            raise ValueError(
                f"`devices` must be 'auto', None or a sequence of JAX devices, got {devices!r}."
            )
        found = jax.devices()
        return (data_parallel_mesh(found), None) if len(found) > 1 else (None, None)
    found = _check_devices(devices)
    if len(found) == 1:
        return None, found[0]
    return data_parallel_mesh(found), None


__all__ = [
    "BATCH_AXIS",
    "data_parallel_mesh",
    "initialize",
    "replicate",
    "shard_batch",
    "gather_to_host",
]
