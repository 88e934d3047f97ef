"""Run under mpirun by tests/distributed/test_mpi.py (also runnable alone, as one process).

python -m tests.distributed.worker equivalence OUT.npz [--batch 64] [--steps 20]
python -m tests.distributed.worker fail
"""

from __future__ import annotations

import sys

import numpy as np

import glassnet as gn
from glassnet import layers as L


def data(n: int = 640) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 6, 6, 2)).astype(np.float32)
    y = (x[..., 0].mean(axis=(1, 2)) > x[..., 1].mean(axis=(1, 2))).astype(np.int64)
    return x, y


def model() -> gn.Sequential:
    gn.set_seed(0)
    net = gn.Sequential(
        [
            L.Input((6, 6, 2)),
            L.Conv2D(4, 3, padding="same", activation="relu"),
            L.Flatten(),
            L.Dense(8, activation="tanh"),
            L.Dense(2, activation="softmax"),
        ]
    )
    net.compile(gn.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy", ["acc"])
    return net


def equivalence(out: str, batch: int = 64, steps: int = 20) -> None:
    """``steps`` steps of global batch ``batch`` (10 steps per epoch), then save the weights."""
    x, y = data(batch * 10)
    net = model()
    history = net.fit(x, y, batch_size=batch, epochs=steps // 10, verbose=0, distributed=True)
    if gn.distributed.rank() == 0:
        np.savez(out, *net.get_weights(), loss=np.array(history.history["loss"]))


def fail() -> None:
    """Rank 1 raises in its third batch; rank 0 would otherwise wait for it forever."""
    x, y = data()
    net = model()

    class Boom(gn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if gn.distributed.rank() == 1 and batch == 2:
                raise RuntimeError("a deliberate failure on rank 1")

    net.fit(x, y, batch_size=64, epochs=3, verbose=0, distributed=True, callbacks=[Boom()])


if __name__ == "__main__":
    if sys.argv[1] == "equivalence":
        equivalence(sys.argv[2], *(int(a) for a in sys.argv[3:]))
    else:
        fail()
