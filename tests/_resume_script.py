"""A small training run with a checkpoint every few steps, for the kill-and-resume test.

    python tests/_resume_script.py DATA CHECKPOINT_DIR [--throttle]

trains a baseline on the dataset file DATA, continuing from the latest checkpoint in
CHECKPOINT_DIR when there is one; at the end the model is in CHECKPOINT_DIR/model.lzm. With
`--throttle` every step waits a millisecond, so that the run lasts long enough to be killed
midway; the parameters are the same either way.
"""

import sys
import time

import jax


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


if __name__ == "__main__":
    data_path, folder, *options = sys.argv[1:]
    data = lz.Dataset.load(data_path)
    train(Throttled(data) if "--throttle" in options else data, folder, resume=True)
