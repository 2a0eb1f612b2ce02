"""The workloads of `speed.py`, and the whole processes it times.

`speed.py` imports the builders (`double_pendulum_field`, `rollout_case`) to time work in its
own process, and runs this file as a script to time a whole process, from the interpreter's
start to its exit:

    python benchmarks/_speed_cases.py CASE '{"steps": 2000, ...}'

Each case prints one line, `RESULT {json}`, with the stages it timed itself (import, data,
trace and compile, run). The cases:

- `hnn_spring_ours`: the HNN paper's spring task through `lz.generate_dataset` and `lz.fit`.
- `hnn_spring_torch`: the same task written the way the HNN paper's repository trains it:
    SciPy `solve_ivp` data, a PyTorch MLP (orthogonal initialisation, no output bias),
    the symplectic gradient by `torch.autograd.grad`, Adam with torch's weight decay, full
    batch, float32.
- `lnn_ours`: the LNN double-pendulum training step through `lz.fit` and a `StateStream`.
- `lnn_paper`: the same training step written the way the LNN paper's code does it: a plain
    JAX MLP, accelerations by `jax.hessian`, a Jacobian of a gradient and `pinv`, one
    `jax.jit` per step called from a Python loop.
- `first_generate`: the same for `lz.generate_dataset`.
- `first_rollout`: a fresh process that builds a model and times its first `lz.rollout`
    (and the second), with the persistent compilation cache in a given folder.

The references import neither `lagrangian_zoo` nor anything of it: they are what a user of
the papers' code runs.
"""

import json
import math
import sys
import time


_START = time.perf_counter()

# The HNN paper's spring task (PAPERS.md): H = q^2 + p^2.
SPRING = {
    "trajectories": 50,
    "t_end": 3.0,
    "samples": 30,
    "radius": (0.1, 1.0),
    "noise_std": 0.1,
    "width": 200,
    "depth": 2,
    "learning_rate": 1e-3,
    "weight_decay": 1e-4,
}
# The LNN double-pendulum training step: 3 x 128 softplus, batch 256, L1 loss, Adam.
LNN_STEP = {"width": 128, "depth": 3, "batch": 256, "learning_rate": 1e-3}
GRAVITY = 9.8


class CompileClock:
    """Sums JAX's own trace, lowering and XLA compile durations (`jax.monitoring` events)."""

    _EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )
    _installed = False
    _totals = {name: 0.0 for name in _EVENTS}

    @classmethod
    def install(cls) -> None:
        if cls._installed:
            return
        import jax.monitoring

        def listen(event, duration, **kwargs):
            if event in cls._totals:
                cls._totals[event] += duration

        jax.monitoring.register_event_duration_secs_listener(listen)
        cls._installed = True

    @classmethod
    def seconds(cls) -> float:
        """Trace + lowering + compile seconds so far in this process."""
        return sum(cls._totals.values())

    @classmethod
    def backend_seconds(cls) -> float:
        """XLA compile seconds so far (what a warm persistent cache saves)."""
        return cls._totals["/jax/core/compile/backend_compile_duration"]


def double_pendulum_field(t, y):
    """The LNN paper's double pendulum (unit masses and lengths), closed form on floats.

    This is how a SciPy user writes a right-hand side: plain `math` on Python floats,
    about 5 microseconds a call, with no array overhead.
    """
    import numpy as np

    q1, q2, w1, w2 = y
    delta = q1 - q2
    cos_d, sin_d = math.cos(delta), math.sin(delta)
    b1 = -(w2 * w2) * sin_d - 2.0 * GRAVITY * math.sin(q1)
    b2 = w1 * w1 * sin_d - GRAVITY * math.sin(q2)
    det = 1.0 + sin_d * sin_d
    return np.array([w1, w2, (b1 - cos_d * b2) / det, (2.0 * b2 - cos_d * b1) / det])


ROLLOUT_MODELS = {
    # name: (class, width, depth, loss, training steps)
    "hnn": ("HNN", 200, 2, "l2", 3000),
    "lnn": ("LNN", 128, 3, "l1", 3000),
}


def train_rollout_model(kind: str, path, steps: int | None = None, seed: int = 0):
    """Trains the double-pendulum model that the rollout rows roll out, and saves it.

    The LNN (3 x 128 softplus) and the HNN (200 x 2 tanh) learn the double pendulum from the
    LNN paper's stream of random states (fresh states every batch, batch 256, Adam 1e-3 with a
    cosine decay, float32). The HNN reads the second half of the state as momenta, which on
    velocity data it is not, so its fit is rough; its flow is still Hamiltonian and smooth,
    which is what a rollout's cost depends on. An untrained network is no stand-in: its
    random mass matrix makes the dynamics so stiff that an adaptive solver crawls.
    """
    import jax
    import lagrangian_zoo as lz
    import optax

    class_name, width, depth, loss, default_steps = ROLLOUT_MODELS[kind]
    steps = default_steps if steps is None else steps
    system = lz.systems.get("double_pendulum")
    key_model, key_fit = jax.random.split(jax.random.key(seed))
    model_class = getattr(lz.models, class_name)
    options = {"coordinates": "velocity"} if class_name == "HNN" else {}
    model = model_class(
        2, key=key_model, width=width, depth=depth, periodic=system.periodic, **options
    )
    model, history = lz.fit(
        model,
        lz.StateStream(system),
        steps=steps,
        key=key_fit,
        batch_size=256,
        optimizer=optax.adam(optax.cosine_decay_schedule(1e-3, steps)),
        loss=loss,
        progress=False,
    )
    lz.save_model(path, model)
    _result(final_loss=float(history.train_loss[-1]), steps=steps)


def rollout_case(kind: str, batch: int, models_dir, seed: int = 0):
    """The trained model of `kind` (`"hnn"` or `"lnn"`), in float64, and its initial states.

    The model is read from `models_dir/<kind>.lzm` (see `train_rollout_model`); the initial
    states are the LNN paper's energy-test states of the double pendulum, nearly at rest.
    """
    import os

    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import lagrangian_zoo as lz

    model = lz.load_model(os.path.join(models_dir, f"{kind}.lzm"))
    model = jax.tree.map(lambda x: x.astype(jnp.float64) if eqx_is_float_array(x) else x, model)
    system = lz.systems.get("double_pendulum")
    y0 = jax.vmap(system.sample_initial_state)(jr.split(jr.key(seed), batch))
    return model, y0


def eqx_is_float_array(x) -> bool:
    import jax.numpy as jnp

    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)


def _startup_seconds(history, train_seconds: float, steps: int) -> float:
    """`fit`'s start-up and compile: its time less its steady rate times its steps.

    The steady rate comes from the history's timestamps after the first logged chunk, which
    holds the compile.
    """
    step, seconds = history.step, history.seconds
    if len(step) < 2 or step[-1] == step[0]:
        return float("nan")
    rate = (seconds[-1] - seconds[0]) / (step[-1] - step[0])
    return max(train_seconds - rate * steps, 0.0)


def _peak_memory_mb() -> float | None:
    """This process's peak resident memory (VmHWM), in MiB; Linux only."""
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _result(**values) -> None:
    values["process_seconds"] = time.perf_counter() - _START
    values["own_peak_memory_mb"] = _peak_memory_mb()
    print("RESULT " + json.dumps(values), flush=True)


def hnn_spring_ours(steps: int, eval_every: int, seed: int = 0) -> None:
    import jax
    import jax.numpy as jnp
    import lagrangian_zoo as lz
    import optax

    cache = _enable_cache_from_environment(lz)
    imported = time.perf_counter()
    CompileClock.install()
    key_data, key_model, key_split, key_fit = jax.random.split(jax.random.key(seed), 4)
    spring = lz.systems.get("spring")
    data = lz.generate_dataset(
        spring,
        key_data,
        trajectories=SPRING["trajectories"],
        ts=jnp.linspace(0.0, SPRING["t_end"], SPRING["samples"]),
        noise_std=SPRING["noise_std"],
        coordinates="canonical",
    )
    train, test = data.split(0.5, key_split)
    jax.block_until_ready(train)
    generated = time.perf_counter()
    model = lz.models.HNN(1, key=key_model, width=SPRING["width"], depth=SPRING["depth"])
    optimizer = optax.chain(
        optax.add_decayed_weights(SPRING["weight_decay"]), optax.adam(SPRING["learning_rate"])
    )
    model, history = lz.fit(
        model,
        train,
        steps=steps,
        key=key_fit,
        batch_size=None,
        optimizer=optimizer,
        eval_data=test,
        eval_every=eval_every,
        log_every=eval_every,
        progress=False,
    )
    test_loss = float(history.eval_loss[-1])
    trained = time.perf_counter()
    _result(
        import_seconds=imported - _START,
        data_seconds=generated - imported,
        train_seconds=trained - generated,
        compile_seconds=_startup_seconds(history, trained - generated, steps),
        backend_compile_seconds=CompileClock.backend_seconds(),
        test_loss=test_loss,
        cache=cache,
        uncached_programs=_UncachedPrograms.found,
    )


def hnn_spring_torch(steps: int, eval_every: int, seed: int = 0, threads: int | None = 1):
    import numpy as np
    import torch
    from scipy.integrate import solve_ivp

    imported = time.perf_counter()
    if threads is not None:
        # One thread: on a small, shared CPU torch's default pool (one thread per core) spins
        # and runs this full batch of 750 rows many times slower (12x measured on 2 cores).
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    def field(t, y):
        return np.array([2.0 * y[1], -2.0 * y[0]])  # dH/dp, -dH/dq for H = q^2 + p^2

    ts = np.linspace(0.0, SPRING["t_end"], SPRING["samples"])
    states, derivatives = [], []
    for _ in range(SPRING["trajectories"]):
        radius = rng.uniform(*SPRING["radius"])
        angle = rng.uniform(0.0, 2 * np.pi)
        y0 = [radius * np.cos(angle), radius * np.sin(angle)]
        solution = solve_ivp(field, (0.0, ts[-1]), y0, t_eval=ts, rtol=1e-10)
        y = solution.y.T
        dy = np.stack([field(None, row) for row in y])
        states.append(y + rng.normal(0.0, SPRING["noise_std"], y.shape))
        derivatives.append(dy)
    half = SPRING["trajectories"] // 2

    def rows(arrays):
        return torch.tensor(np.concatenate(arrays), dtype=torch.float32)

    x, dx = rows(states[:half]), rows(derivatives[:half])
    test_x, test_dx = rows(states[half:]), rows(derivatives[half:])
    x.requires_grad_(True)
    test_x.requires_grad_(True)
    generated = time.perf_counter()

    width = SPRING["width"]
    model = torch.nn.Sequential(
        torch.nn.Linear(2, width),
        torch.nn.Tanh(),
        torch.nn.Linear(width, width),
        torch.nn.Tanh(),
        torch.nn.Linear(width, 1, bias=False),
    )
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.orthogonal_(layer.weight)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=SPRING["learning_rate"], weight_decay=SPRING["weight_decay"]
    )

    def symplectic_gradient(states):
        energy = model(states).sum()
        (gradient,) = torch.autograd.grad(energy, states, create_graph=True)
        return torch.cat([gradient[:, 1:], -gradient[:, :1]], dim=1)

    test_loss = float("nan")
    for step in range(steps):
        loss = ((symplectic_gradient(x) - dx) ** 2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            test_loss = ((symplectic_gradient(test_x) - test_dx) ** 2).mean().item()
    trained = time.perf_counter()
    _result(
        import_seconds=imported - _START,
        data_seconds=generated - imported,
        train_seconds=trained - generated,
        compile_seconds=0.0,
        test_loss=test_loss,
        torch_threads=torch.get_num_threads(),
    )


def lnn_ours(steps: int, log_every: int, seed: int = 0) -> None:
    import jax
    import lagrangian_zoo as lz
    import optax

    cache = _enable_cache_from_environment(lz)
    imported = time.perf_counter()
    CompileClock.install()
    system = lz.systems.get("double_pendulum")
    key_model, key_fit = jax.random.split(jax.random.key(seed))
    model = lz.models.LNN(
        2,
        key=key_model,
        width=LNN_STEP["width"],
        depth=LNN_STEP["depth"],
        periodic=system.periodic,
    )
    built = time.perf_counter()
    model, history = lz.fit(
        model,
        lz.StateStream(system),
        steps=steps,
        key=key_fit,
        batch_size=LNN_STEP["batch"],
        optimizer=optax.adam(LNN_STEP["learning_rate"]),
        loss="l1",
        log_every=log_every,
        progress=False,
    )
    final_loss = float(history.train_loss[-1])
    trained = time.perf_counter()
    _result(
        import_seconds=imported - _START,
        data_seconds=built - imported,
        train_seconds=trained - built,
        compile_seconds=_startup_seconds(history, trained - built, steps),
        backend_compile_seconds=CompileClock.backend_seconds(),
        final_loss=final_loss,
        cache=cache,
        uncached_programs=_UncachedPrograms.found,
    )


def lnn_paper(steps: int, log_every: int, seed: int = 0) -> None:
    import jax
    import jax.numpy as jnp
    import optax

    imported = time.perf_counter()
    CompileClock.install()
    width, depth, batch = LNN_STEP["width"], LNN_STEP["depth"], LNN_STEP["batch"]

    def init(key):
        # The LNN paper's initialisation: N(0, (s / sqrt(fan_in))^2), s = 2.2 for the first
        # layer, 0.58 i for hidden layer i, fan_in for the output layer.
        sizes = [4] + [width] * depth + [1]
        params = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            key, subkey = jax.random.split(key)
            scale = 2.2 if i == 0 else (float(fan_in) if i == depth else 0.58 * i)
            weight = jax.random.normal(subkey, (fan_in, fan_out)) * scale / math.sqrt(fan_in)
            params.append((weight, jnp.zeros(fan_out)))
        return params

    def lagrangian(params, q, q_t):
        wrapped = (q + jnp.pi) % (2 * jnp.pi) - jnp.pi
        x = jnp.concatenate([wrapped, q_t])
        for weight, bias in params[:-1]:
            x = jax.nn.softplus(x @ weight + bias)
        weight, bias = params[-1]
        return (x @ weight + bias)[0]

    def acceleration(params, q, q_t):
        lagr = lambda q, q_t: lagrangian(params, q, q_t)  # noqa: E731
        hessian = jax.hessian(lagr, 1)(q, q_t)
        mixed = jax.jacobian(jax.jacobian(lagr, 1), 0)(q, q_t)
        return jnp.linalg.pinv(hessian) @ (jax.grad(lagr, 0)(q, q_t) - mixed @ q_t)

    def exact_acceleration(y):
        q1, q2, w1, w2 = y
        delta = q1 - q2
        cos_d, sin_d = jnp.cos(delta), jnp.sin(delta)
        b1 = -(w2**2) * sin_d - 2.0 * GRAVITY * jnp.sin(q1)
        b2 = w1**2 * sin_d - GRAVITY * jnp.sin(q2)
        det = 1.0 + sin_d**2
        return jnp.stack([(b1 - cos_d * b2) / det, (2.0 * b2 - cos_d * b1) / det])

    def sample(key):
        angle_key, velocity_key = jax.random.split(key)
        q = jax.random.uniform(angle_key, (batch, 2), minval=0.0, maxval=2 * jnp.pi)
        q_t = jax.random.uniform(velocity_key, (batch, 2), minval=-10.0, maxval=10.0)
        return jnp.concatenate([q, q_t], axis=1)

    def loss_fn(params, y, target):
        predicted = jax.vmap(acceleration, (None, 0, 0))(params, y[:, :2], y[:, 2:])
        return jnp.mean(jnp.abs(predicted - target))

    optimizer = optax.adam(LNN_STEP["learning_rate"])

    @jax.jit
    def step(params, opt_state, key):
        y = sample(key)
        target = jax.vmap(exact_acceleration)(y)
        loss, grads = jax.value_and_grad(loss_fn)(params, y, target)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    key_model, key_data = jax.random.split(jax.random.key(seed))
    params = init(key_model)
    opt_state = optimizer.init(params)
    built = time.perf_counter()
    losses = []
    for i in range(steps):
        params, opt_state, loss = step(params, opt_state, jax.random.fold_in(key_data, i))
        if i == 0:
            first_step = time.perf_counter() - built
        if (i + 1) % log_every == 0 or i + 1 == steps:
            losses.append(float(loss))
    trained = time.perf_counter()
    later_steps = (trained - built - first_step) / max(steps - 1, 1)
    _result(
        import_seconds=imported - _START,
        data_seconds=built - imported,
        train_seconds=trained - built,
        compile_seconds=max(first_step - later_steps, 0.0),
        backend_compile_seconds=CompileClock.backend_seconds(),
        final_loss=losses[-1],
    )


def first_rollout(
    kind: str, batch: int, t_end: float, samples: int, rtol: float, atol: float, models_dir: str
):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import lagrangian_zoo as lz

    cache = _enable_cache_from_environment(lz)
    imported = time.perf_counter()
    CompileClock.install()
    model, y0 = rollout_case(kind, batch, models_dir)
    ts = jnp.linspace(0.0, t_end, samples)
    jax.block_until_ready((model, y0))
    built = time.perf_counter()
    jax.block_until_ready(lz.rollout(model, y0, ts, rtol=rtol, atol=atol))
    first = time.perf_counter()
    backend_seconds = CompileClock.backend_seconds()
    jax.block_until_ready(lz.rollout(model, y0, ts, rtol=rtol, atol=atol))
    second = time.perf_counter()
    _result(
        import_seconds=imported - _START,
        build_seconds=built - imported,
        first_call_seconds=first - built,
        second_call_seconds=second - first,
        compile_seconds=max((first - built) - (second - first), 0.0),
        backend_compile_seconds=backend_seconds,
        cache=cache,
        uncached_programs=_UncachedPrograms.found,
    )


def first_generate(trajectories: int, t_end: float, samples: int, rtol: float, atol: float):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import lagrangian_zoo as lz

    cache = _enable_cache_from_environment(lz)
    imported = time.perf_counter()
    CompileClock.install()
    system = lz.systems.get("double_pendulum")
    ts = jnp.linspace(0.0, t_end, samples)
    timings = []
    for seed in (0, 1):
        start = time.perf_counter()
        data = lz.generate_dataset(
            system,
            jax.random.key(seed),
            trajectories=trajectories,
            ts=ts,
            solver="dopri8",
            rtol=rtol,
            atol=atol,
        )
        jax.block_until_ready(data)
        timings.append(time.perf_counter() - start)
        if seed == 0:
            backend_seconds = CompileClock.backend_seconds()
    _result(
        import_seconds=imported - _START,
        build_seconds=0.0,
        first_call_seconds=timings[0],
        second_call_seconds=timings[1],
        compile_seconds=max(timings[0] - timings[1], 0.0),
        backend_compile_seconds=backend_seconds,
        cache=cache,
        uncached_programs=_UncachedPrograms.found,
    )


class _UncachedPrograms:
    """The programs JAX declined to write to the persistent cache, and why (its debug log)."""

    import re as _re

    _PATTERN = _re.compile(r"Not writing persistent cache entry for '([^']+)' because it (.+)")
    found: dict[str, str] = {}

    @classmethod
    def install(cls) -> None:
        import logging

        class Handler(logging.Handler):
            def emit(self, record):
                match = cls._PATTERN.search(record.getMessage())
                if match and "took <" not in match.group(2):
                    cls.found[match.group(1)] = match.group(2)

        logger = logging.getLogger("jax._src.compiler")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(Handler(logging.DEBUG))
        logger.propagate = False


def _enable_cache_from_environment(lz) -> str | None:
    """The persistent compilation cache in `$SPEED_CACHE_DIR`, if set; else JAX's default."""
    import os

    folder = os.environ.get("SPEED_CACHE_DIR")
    if not folder:
        return None
    _UncachedPrograms.install()
    enable = getattr(lz, "enable_compilation_cache", None)
    if enable is not None:
        return str(enable(folder))
    import jax

    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


CASES = {
    "train_rollout_model": train_rollout_model,
    "hnn_spring_ours": hnn_spring_ours,
    "hnn_spring_torch": hnn_spring_torch,
    "lnn_ours": lnn_ours,
    "lnn_paper": lnn_paper,
    "first_rollout": first_rollout,
    "first_generate": first_generate,
}


if __name__ == "__main__":
    name, options = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    CASES[name](**options)
