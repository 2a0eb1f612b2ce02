"""A small training run with a checkpoint every few steps, for the kill-and-resume test.

    python tests/_resume_script.py DATA CHECKPOINT_DIR [--throttle]

trains a baseline on the dataset file DATA, continuing from the latest checkpoint in
CHECKPOINT_DIR when there is one; at the end the model is in CHECKPOINT_DIR/model.lzm. With
`--throttle` every step waits a millisecond, so that the run lasts long enough to be killed
midway; the parameters are the same either way.

    python tests/_resume_script.py --fingerprints

prints the data fingerprints of `stream_fingerprints()` as JSON, for the test that another
process finds the same ones.
"""

import functools
import json
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp


jax.config.update("jax_enable_x64", True)

import lagrangian_zoo as lz  # noqa: E402


STEPS = 1000
CHECKPOINT_EVERY = 20


class Throttled(lz.AbstractDerivativeSource, lz.AbstractFiniteSource):
    """A dataset whose minibatches each take a millisecond longer to draw."""

    data: lz.Dataset

    def states(self):
        return self.data.states()

    def sample(self, key, batch_size):
        jax.debug.callback(lambda: time.sleep(1e-3))
        return self.data.sample(key, batch_size)


def train(data, checkpoint_dir=None, *, resume=False):
    model = lz.models.Baseline(1, width=16, depth=1, key=jax.random.key(1))
    return lz.fit(
        model,
        data,
        steps=STEPS,
        key=jax.random.key(2),
        batch_size=32,
        learning_rate=3e-3,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=CHECKPOINT_EVERY,
        log_every=CHECKPOINT_EVERY,
        resume=resume,
        progress=False,
    )


def pendulum_sampler(key):
    """Random pendulum states, a sampler defined at module level."""
    return jnp.array([1.5, 4.0]) * jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)


def narrow_sampler(key):
    """Another sampler: states closer to rest."""
    return jnp.array([0.5, 1.0]) * jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)


def scaled_sampler(key, scale=1.0):
    return scale * pendulum_sampler(key)


def sampler_of_scale(scale):
    """A sampler closing over `scale`."""

    def sampler(key):
        return scale * pendulum_sampler(key)

    return sampler


def stream_fingerprints():
    """The data fingerprints of pendulum streams with several samplers."""
    from lagrangian_zoo._fingerprint import data_fingerprint

    system = lz.systems.get("pendulum")
    samplers = {
        "module": pendulum_sampler,
        "other": narrow_sampler,
        "partial 2": functools.partial(scaled_sampler, scale=2.0),
        "partial 3": functools.partial(scaled_sampler, scale=3.0),
        "equinox partial 2": eqx.Partial(scaled_sampler, scale=2.0),
        "closure 2": sampler_of_scale(2.0),
        "closure 3": sampler_of_scale(3.0),
        "jitted": jax.jit(pendulum_sampler),
    }
    return {
        name: data_fingerprint(lz.StateStream(system, sampler=sampler))
        for name, sampler in samplers.items()
    }


if __name__ == "__main__" and sys.argv[1:] == ["--fingerprints"]:
    # Imported by its name, as the tests import it, so that the samplers' module is the same.
    import _resume_script

    print(json.dumps(_resume_script.stream_fingerprints()))
elif __name__ == "__main__":
    data_path, folder, *options = sys.argv[1:]
    data = lz.Dataset.load(data_path)
    train(Throttled(data) if "--throttle" in options else data, folder, resume=True)
