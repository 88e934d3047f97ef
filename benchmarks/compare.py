"""glassnet against PyTorch, workload by workload, in one process run.

    python -m benchmarks.compare                    # every workload, table to stdout
    python -m benchmarks.compare --only W1 W3 --steps 30 --write

For each workload both sides get the same architecture, the same initial weights (PyTorch's are
copied from glassnet's), the same random float32 data and 2 threads (threadpoolctl for BLAS,
``torch.set_num_threads``). Each side runs in its own worker process (``--one-process`` puts
them all in this one, where PyTorch's OpenMP runtime slows glassnet's BLAS: see ``measure``),
and the sides alternate in blocks of a few steps — glassnet, PyTorch NCHW, PyTorch
channels-last, glassnet, ... — so a noisy neighbour slows all sides alike;
warm-up steps and the first steps of every block (while the other side's threads still spin)
are dropped and the median of the rest is reported; ``--steps 90`` interleaves more rounds.
"Best PyTorch" is the faster of its two memory layouts. Peak memory is measured for each side
in a separate process (VmHWM).

Run by hand, never by the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import glassnet as gn
from benchmarks.machine import describe_machine, limit_threads, write_results
from glassnet import layers as L
from glassnet.models.summary import summary_rows

Step = Callable[[], object]


@dataclass
class Workload:
    """One benchmark: how to build each side's step, its batch size and its FLOPs per step."""

    name: str
    title: str
    batch: int
    training: bool
    glassnet: Callable[[], tuple[Step, int]]  # -> (step, forward MACs per sample)
    torch: Callable[[object, str], Step]  # (glassnet model, "nchw"|"channels_last") -> step
    steps: int = 30


# ----------------------------------------------------------------------------- models
def mlp_model() -> gn.Sequential:
    return gn.Sequential(
        [
            L.Input((784,)),
            L.Dense(256, activation="relu"),
            L.Dense(128, activation="relu"),
            L.Dense(10),
        ]
    )


def cifar_model() -> gn.Sequential:
    return gn.Sequential(
        [
            L.Input((32, 32, 3)),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(256, activation="relu"),
            L.Dense(10),
        ]
    )


def lenet_model() -> gn.Sequential:
    return gn.applications.LeNet5(classifier_activation=None)


def rnn_model() -> gn.Sequential:
    """A sequence classifier: an LSTM over 40 steps of 32 features, then a Dense head."""
    return gn.Sequential([L.Input((40, 32)), L.LSTM(64), L.Dense(10)])


def photo_model() -> gn.Sequential:
    """``glassnet train``'s default network (conv + batch norm + ReLU + pool blocks, dropout)."""
    return gn.applications.small_cnn((64, 64, 3), classes=10, classifier_activation=None)


def photo_cnn_model() -> gn.Sequential:
    """``glassnet train``'s default network (``applications.photo_cnn``: four blocks of two
    convolutions with batch normalization, dropout, softmax) on the recipe's 96×96 crops, for
    ``PHOTO_CLASSES`` classes."""
    return gn.applications.photo_cnn((96, 96, 3), classes=PHOTO_CLASSES)


#: P2's classes: two, as for cats and dogs.
PHOTO_CLASSES = 2


def torch_twin(model: gn.Sequential, torch: object) -> object:
    """The same Sequential stack in torch.nn (NCHW), with glassnet's weights copied in.

    Convolutions pad symmetrically (k // 2), which equals "same" for odd kernels at stride 1;
    the first Linear after a Flatten gets its inputs reordered from (h, w, c) to (c, h, w).
    Batch normalization takes Keras's epsilon and momentum (PyTorch's momentum is 1 − it).
    """
    nn = torch.nn
    modules, shape = [], model.input_shape
    flatten_from = None
    for layer in model.layers:
        out = layer.compute_output_shape(shape)
        if isinstance(layer, L.Conv2D):
            k = layer.kernel.shape
            pad = (k[0] // 2, k[1] // 2) if layer.padding == "same" else (0, 0)
            conv = nn.Conv2d(
                k[2], k[3], tuple(k[:2]), stride=layer.strides, padding=pad,
                bias=layer.bias is not None,
            )  # fmt: skip
            _copy(conv, layer.kernel.numpy().transpose(3, 2, 0, 1), layer.bias, torch)
            modules += [conv, nn.ReLU()] if _relu(layer) else [conv]
        elif isinstance(layer, L.MaxPooling2D):
            modules.append(nn.MaxPool2d(layer.pool_size, layer.strides))
        elif isinstance(layer, L.Rescaling):
            modules.append(_scale_module(layer.scale, layer.offset, nn))
        elif isinstance(layer, L.BatchNormalization):
            bn = nn.BatchNorm2d(shape[-1], eps=layer.epsilon, momentum=1 - layer.momentum)
            modules.append(bn)
        elif isinstance(layer, L.ReLU):
            modules.append(nn.ReLU())
        elif isinstance(layer, L.GlobalAveragePooling2D):
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif isinstance(layer, L.Dropout):
            modules.append(nn.Dropout(layer.rate))
        elif isinstance(layer, L.Flatten):
            flatten_from = shape[1:]
            modules.append(nn.Flatten())
        elif isinstance(layer, L.LSTM):
            modules.append(_lstm_module(layer, torch))
        elif isinstance(layer, L.Dense):
            kernel = layer.kernel.numpy()
            if flatten_from is not None and len(flatten_from) == 3:
                h, w, c = flatten_from
                kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
                flatten_from = None
            linear = nn.Linear(*kernel.shape)
            _copy(linear, kernel.T, layer.bias, torch)
            modules += [linear, nn.ReLU()] if _relu(layer) else [linear]
        shape = out
    return nn.Sequential(*modules)


def _lstm_module(layer: L.LSTM, torch: object) -> object:
    """Keras's LSTM as torch.nn.LSTM (batch first): the same gate order (i, f, c, o), the
    kernels transposed, Keras's one bias as PyTorch's input bias (the recurrent one zero);
    the last step's output unless ``return_sequences``."""
    nn = torch.nn
    lstm = nn.LSTM(layer.kernel.shape[0], layer.units, batch_first=True)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(layer.kernel.numpy().T)))
        lstm.weight_hh_l0.copy_(
            torch.from_numpy(np.ascontiguousarray(layer.recurrent_kernel.numpy().T))
        )
        lstm.bias_ih_l0.copy_(torch.from_numpy(layer.bias.numpy()))
        lstm.bias_hh_l0.zero_()
    every_step = layer.return_sequences

    class LSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = lstm

        def forward(self, x):
            out = self.lstm(x)[0]
            return out if every_step else out[:, -1]

    return LSTM()


def _scale_module(scale: float, offset: float, nn: object) -> object:
    """Keras's Rescaling, x · scale + offset, as a torch module."""

    class Scale(nn.Module):
        def forward(self, x):
            return x * scale + offset

    return Scale()


def _relu(layer: L.Layer) -> bool:
    return getattr(layer.activation, "__name__", "") == "relu"


def _copy(module: object, weight: np.ndarray, bias: object, torch: object) -> None:
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
        if bias is not None:
            module.bias.copy_(torch.from_numpy(bias.numpy()))


# ----------------------------------------------------------------------------- steps
def _data(
    batch: int, shape: tuple[int, ...], seed: int = 0, classes: int = 10, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform inputs in [0, ``scale``) and labels in [0, ``classes``)."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, *shape), dtype=np.float32)
    return (x if scale == 1 else x * np.float32(scale)), rng.integers(0, classes, batch)


def glassnet_training(
    make: Callable[[], gn.Sequential],
    optimizer: Callable,
    batch: int,
    loss: Callable[[], Any] | None = None,
    classes: int = 10,
    scale: float = 1.0,
):
    """A train step of ``make()`` compiled with ``optimizer()`` and ``loss()`` (default: the
    sparse cross-entropy on logits), on uniform inputs in [0, ``scale``) and ``classes``
    labels."""

    def build() -> tuple[Step, int]:
        gn.set_seed(0)
        model = make()
        criterion = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer(), criterion if loss is None else loss())
        x, y = _data(batch, model.input_shape[1:], classes=classes, scale=scale)
        model.train()
        build.model = model

        def step() -> None:
            model.train_step(x, y)

        return step, _macs(model)

    return build


def glassnet_inference(make: Callable[[], gn.Sequential], batch: int):
    def build() -> tuple[Step, int]:
        gn.set_seed(0)
        model = make()
        x, _ = _data(batch, model.input_shape[1:])
        build.model = model

        def step() -> None:
            model.predict(x, batch_size=batch)

        return step, _macs(model)

    return build


def _macs(model: gn.Model) -> int:
    return sum(r.macs for r in summary_rows(model) if not r.layer.children())


def torch_training(optimizer: str, batch: int, lr: float):
    def build(model: gn.Sequential, layout: str) -> Step:
        import torch

        net = torch_twin(model, torch)
        x, y = _data(batch, model.input_shape[1:])
        xt = torch.from_numpy(x if x.ndim != 4 else np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        if layout == "channels_last" and xt.ndim == 4:
            net, xt = (
                net.to(memory_format=torch.channels_last),
                xt.contiguous(memory_format=torch.channels_last),
            )
        yt = torch.from_numpy(y)
        if optimizer == "sgd":
            opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
        else:
            opt = torch.optim.Adam(net.parameters(), lr=lr, eps=1e-7)

        def step() -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt), yt).backward()
            opt.step()

        return step

    return build


def glassnet_photo_training(make: Callable[[], gn.Sequential], batch: int):
    """A train step of ``glassnet train``'s recipe: AdamW as ``photo_recipe.photo_optimizer``
    builds it (its weight decay, the one-cycle rate), the recipe's label-smoothed
    cross-entropy on the softmax outputs, raw 0–255 pixels. (No augmentation layers: the
    network sees its crop size.)"""
    from glassnet.applications import photo_recipe

    return glassnet_training(
        make,
        lambda: photo_recipe.photo_optimizer("adamw", _PHOTO_STEPS),
        batch,
        loss=photo_recipe.photo_loss,
        classes=PHOTO_CLASSES,
        scale=255,
    )


# The one-cycle schedule's length for the photo recipe's steps: longer than any run here.
_PHOTO_STEPS = 100_000


def torch_photo_training(batch: int):
    """The PyTorch twin of ``glassnet_photo_training``'s step, as ``benchmarks.photos`` trains
    it: its torch.nn photo_cnn (``photos.torch_photo_cnn``, glassnet's weights), AdamW with
    the recipe's weight decay and ε, the rate of glassnet's schedule at every step, the
    label-smoothed cross-entropy on the logits."""

    def build(model: gn.Sequential, layout: str) -> Step:
        import torch

        from benchmarks.photos import torch_photo_cnn
        from glassnet.applications import photo_recipe

        net = torch_photo_cnn(model, torch).train()
        x, y = _data(batch, model.input_shape[1:], classes=model.output_shape[-1], scale=255)
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        if layout == "channels_last":
            net = net.to(memory_format=torch.channels_last)
            xt = xt.contiguous(memory_format=torch.channels_last)
        yt = torch.from_numpy(y)
        schedule = photo_recipe.photo_optimizer("adamw", _PHOTO_STEPS).learning_rate_schedule
        opt = torch.optim.AdamW(
            net.parameters(), lr=schedule(0), weight_decay=photo_recipe.WEIGHT_DECAY, eps=1e-7
        )
        build.net, build.optimizer, steps = net, opt, [0]

        def step() -> None:
            for group in opt.param_groups:
                group["lr"] = schedule(steps[0])
            opt.zero_grad()
            torch.nn.functional.cross_entropy(
                net(xt), yt, label_smoothing=photo_recipe.LABEL_SMOOTHING
            ).backward()
            opt.step()
            steps[0] += 1

        return step

    return build


def torch_inference(batch: int):
    def build(model: gn.Sequential, layout: str) -> Step:
        import torch

        net = torch_twin(model, torch).eval()
        x, _ = _data(batch, model.input_shape[1:])
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        if layout == "channels_last":
            net = net.to(memory_format=torch.channels_last)
            xt = xt.contiguous(memory_format=torch.channels_last)

        def step() -> None:
            with torch.inference_mode():
                net(xt)

        return step

    return build


def resnet50_glassnet() -> tuple[Step, int]:
    gn.set_seed(0)
    model = gn.applications.ResNet50()
    x, _ = _data(1, (224, 224, 3))
    resnet50_glassnet.model = model

    def step() -> None:
        model.predict(x, batch_size=1)

    return step, _macs(model)


def resnet50_torch(model: object, layout: str) -> Step:
    import torch

    from benchmarks.torch_resnet import resnet50

    net = resnet50().eval()
    x = torch.from_numpy(_data(1, (3, 224, 224))[0])
    if layout == "channels_last":
        net, x = (
            net.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
        )

    def step() -> None:
        with torch.inference_mode():
            net(x)

    return step


def mobilenet_v2_model() -> gn.Model:
    return gn.applications.MobileNetV2(classifier_activation=None)


def mobilenet_v2_torch(model: object, layout: str) -> Step:
    import torch

    from benchmarks.torch_mobilenet import from_glassnet

    net = from_glassnet(model).eval()
    x = torch.from_numpy(np.ascontiguousarray(_data(1, (224, 224, 3))[0].transpose(0, 3, 1, 2)))
    if layout == "channels_last":
        net, x = (
            net.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
        )

    def step() -> None:
        with torch.inference_mode():
            net(x)

    return step


def transformer_torch(batch: int, lr: float):
    def build(model: gn.Model, layout: str) -> Step:
        import torch

        from benchmarks.transformer_block import torch_model

        net = torch_model(model)
        x, y = _data(batch, model.input_shape[1:])
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        opt = torch.optim.Adam(net.parameters(), lr=lr, eps=1e-7)

        def step() -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt), yt).backward()
            opt.step()

        return step

    return build


def workloads() -> list[Workload]:
    from benchmarks.transformer_block import glassnet_model as transformer_model

    sgd = lambda: gn.optimizers.SGD(0.01, momentum=0.9)  # noqa: E731
    adam = lambda: gn.optimizers.Adam(1e-3, epsilon=1e-7)  # noqa: E731
    return [
        Workload("W1", "MLP 784-256-128-10, SGD momentum, batch 128 (train step)", 128, True,
                 glassnet_training(mlp_model, sgd, 128), torch_training("sgd", 128, 0.01)),
        Workload("W2", "LeNet-5 28×28×1, Adam, batch 64 (train step)", 64, True,
                 glassnet_training(lenet_model, adam, 64), torch_training("adam", 64, 1e-3)),
        Workload("W3", "CIFAR CNN 32×32×3, SGD momentum, batch 64 (train step)", 64, True,
                 glassnet_training(cifar_model, sgd, 64), torch_training("sgd", 64, 0.01)),
        Workload("P1", "photo classifier (small_cnn) 64×64×3, Adam, batch 32 (train step)", 32,
                 True, glassnet_training(photo_model, adam, 32), torch_training("adam", 32, 1e-3)),
        Workload("P2", "photo_cnn (glassnet train's default network) 96×96×3, 2 classes, "
                 "AdamW (the photo recipe's), batch 32 (train step)", 32, True,
                 glassnet_photo_training(photo_cnn_model, 32), torch_photo_training(32)),
        Workload("R1", "LSTM 40×32 -> 64 units -> 10, Adam, batch 32 (train step)", 32, True,
                 glassnet_training(rnn_model, adam, 32), torch_training("adam", 32, 1e-3)),
        Workload("W4-1", "CIFAR CNN predict, batch 1 (latency)", 1, False,
                 glassnet_inference(cifar_model, 1), torch_inference(1), steps=200),
        Workload("W4-256", "CIFAR CNN predict, batch 256 (throughput)", 256, False,
                 glassnet_inference(cifar_model, 256), torch_inference(256)),
        Workload("W5", "ResNet-50 forward, batch 1, 224×224×3", 1, False,
                 resnet50_glassnet, resnet50_torch),
        Workload("M1", "MobileNetV2 forward, batch 1, 224×224×3", 1, False,
                 glassnet_inference(mobilenet_v2_model, 1), mobilenet_v2_torch),
        Workload("T1", "transformer block (4-head self-attention, MLP 512) 64×128, Adam, "
                 "batch 32 (train step)", 32, True,
                 glassnet_training(transformer_model, adam, 32), transformer_torch(32, 1e-3)),
    ]  # fmt: skip


# ----------------------------------------------------------------------------- measuring
def sgemm_peak(size: int = 2048, repeats: int = 7) -> float:
    """The GFLOP/s of NumPy's float32 matrix product on this machine, now."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def _run_block(step: Step, kept: int, settle: int, settle_ms: float) -> list[float]:
    """Run ``step`` until ``kept`` steps are timed, dropping the first ``settle`` steps and any
    begun in the first ``settle_ms`` (see ``measure``); milliseconds per kept step."""
    times: list[float] = []
    began, seen = time.perf_counter(), 0
    while len(times) < kept:
        start = time.perf_counter()
        step()
        elapsed_ms = (time.perf_counter() - start) * 1000
        seen += 1
        if seen > settle and (start - began) * 1000 >= settle_ms:
            times.append(elapsed_ms)
    return times


def _side_names(workload: Workload) -> list[str]:
    """glassnet, and PyTorch in each memory layout that applies (W1, R1 and T1 have no image
    axes)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: measuring glassnet only")
        return ["glassnet"]
    layouts = ["nchw"] if workload.name in ("W1", "R1", "T1") else ["nchw", "channels_last"]
    return ["glassnet"] + [f"torch_{layout}" for layout in layouts]


def _build_side(workload: Workload, side: str) -> tuple[Step, int]:
    """One side's step (glassnet's model is always built: PyTorch copies its weights)."""
    step, macs = workload.glassnet()
    if side != "glassnet":
        step = workload.torch(getattr(workload.glassnet, "model", None), side.split("_", 1)[1])
    return step, macs


def _side_worker(conn: Any, workload: str, side: str, steps: int) -> None:
    """A worker process for one side: build it, then run the blocks the parent asks for."""
    limit_threads(2, torch=side != "glassnet")
    chosen = next(w for w in workloads() if w.name == workload)
    chosen.steps = steps
    step, macs = _build_side(chosen, side)
    conn.send(macs)
    while (order := conn.recv()) is not None:
        conn.send(_run_block(step, *order))


class _Side:
    """A side running in its own process (``spawn``: a fresh interpreter, its own thread pools
    and allocator), driven block by block through a pipe."""

    def __init__(self, workload: Workload, name: str) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_side_worker, args=(child, workload.name, name, workload.steps), daemon=True
        )
        self.process.start()
        self.macs = self.conn.recv()

    def block(self, kept: int, settle: int, settle_ms: float) -> list[float]:
        self.conn.send((kept, settle, settle_ms))
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(None)
        self.process.join(timeout=30)


def measure(
    workload: Workload,
    warmup: int = 3,
    block: int = 6,
    settle: int = 2,
    settle_ms: float = 200,
    one_process: bool = False,
    fresh_every: int = 3,
) -> dict[str, list[float]]:
    """Time each side's step, alternating sides in blocks; milliseconds per step.

    Each round runs every side for a block of ``block`` kept steps (at least 5 rounds, more
    when more steps are asked for, so longer runs interleave the sides more finely). Blocks
    interleave the sides, so a noisy neighbour slows all of them alike.

    The first ``settle`` steps of a block, and any begun in its first ``settle_ms``, are
    dropped: after its step PyTorch's OpenMP workers keep spinning on the cores for a while,
    and OpenBLAS's threads after ours for up to ~0.1 s (2²⁸ cycles by default), so a step timed
    right after the other side's measures the other side's threads as much as its own code.

    Each side runs in its own process (``one_process=False``, the default) and the parent
    alternates them, starting fresh processes every ``fresh_every`` rounds: three consecutive
    runs of W3 alone read 141, 289 and 155 ms (a slow process or a slow minute on this shared
    machine, not the code), and fresh processes spread such spells over all sides.
    In one shared process, PyTorch's OpenMP runtime slowed glassnet's W3 step from 132 ms to
    250–280 ms for 0.3 s and more after PyTorch's last step (``OMP_WAIT_POLICY=PASSIVE``, which
    stops that, slows PyTorch 2–3× on small workloads): there a run measures two runtimes
    fighting over two cores, not either framework.
    """
    names = _side_names(workload)
    rounds = max(5, workload.steps // block)
    per_block = -(-workload.steps // rounds)
    times: dict[str, list[float]] = {name: [] for name in names}
    if one_process:
        built = {name: _build_side(workload, name) for name in names}
        macs = built["glassnet"][1]
        for step, _ in built.values():
            _run_block(step, warmup, 0, 0)
        for _ in range(rounds):
            for name, (step, _) in built.items():
                times[name] += _run_block(step, per_block, settle, settle_ms)
    else:
        # Fresh worker processes every `fresh_every` rounds: a process's own state (where its
        # memory landed) made one run of a whole workload 2× slower than the next.
        for first in range(0, rounds, fresh_every):
            workers = {name: _Side(workload, name) for name in names}
            try:
                macs = workers["glassnet"].macs
                for worker in workers.values():
                    worker.block(warmup, 0, 0)
                for _ in range(first, min(first + fresh_every, rounds)):
                    for name, worker in workers.items():
                        times[name] += worker.block(per_block, settle, settle_ms)
            finally:
                for worker in workers.values():
                    worker.close()
    times["_macs"] = [float(macs)]
    return times


def peak_memory(workload: str, side: str, steps: int = 5) -> int:
    """Peak resident memory (MiB) of a fresh process that builds and runs one side."""
    code = (
        "import json, benchmarks.compare as c, benchmarks.machine as m\n"
        f"c.run_side({workload!r}, {side!r}, {steps})\n"
        "print(json.dumps(m.peak_rss_mib()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return round(json.loads(out.strip().splitlines()[-1]))


def run_side(workload: str, side: str, steps: int) -> None:
    """Build and run one side of one workload (used by ``peak_memory`` in a child process)."""
    limit_threads(2, torch=side != "glassnet")
    chosen = next(w for w in workloads() if w.name == workload)
    step, _ = chosen.glassnet()
    if side != "glassnet":
        step = chosen.torch(getattr(chosen.glassnet, "model", None), side.removeprefix("torch_"))
    for _ in range(steps):
        step()


def report(results: dict[str, dict[str, list[float]]], chosen: list[Workload], peak: float) -> str:
    lines = [
        f"sgemm peak (NumPy float32, 2048², 2 threads): {peak:.0f} GFLOP/s",
        "",
        "| workload | side | ms/step | samples/s | GFLOP/s | % of sgemm peak | glassnet / best PyTorch |",  # noqa: E501
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for workload in chosen:
        times = results[workload.name]
        macs = times.pop("_macs")[0]
        flops = 2 * macs * workload.batch * (3 if workload.training else 1)
        medians = {name: statistics.median(t) for name, t in times.items()}
        torch_sides = [v for k, v in medians.items() if k.startswith("torch")]
        best = min(torch_sides) if torch_sides else None
        for name, ms in medians.items():
            gflops = flops / (ms / 1000) / 1e9
            ratio = f"**{ms / best:.2f}×**" if name == "glassnet" and best else ""
            lines.append(
                f"| {workload.name} {workload.title} | {name} | {ms:.2f} | "
                f"{workload.batch / (ms / 1000):,.0f} | {gflops:.1f} | {100 * gflops / peak:.0f} % "
                f"| {ratio} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="workload names, e.g. W1 W3")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 30)")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory on W3")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="run both frameworks in this process (their thread pools then interfere)",
    )
    args = parser.parse_args(argv)
    limit_threads(2)
    chosen = [w for w in workloads() if not args.only or w.name in args.only]
    for w in chosen:
        if args.steps:
            w.steps = max(args.steps, w.steps if w.name == "W4-1" else 0)
    peak = sgemm_peak()
    results = {}
    for w in chosen:
        print(f"{w.name}: {w.title} ...", flush=True)
        results[w.name] = measure(w, one_process=args.one_process)
    text = report(results, chosen, peak)
    if args.memory:
        sides = ["glassnet", "torch_nchw", "torch_channels_last"]
        memory = {side: peak_memory("W3", side) for side in sides}
        text += "\n\nPeak memory on W3 (separate processes, MiB): " + ", ".join(
            f"{k} {v}" for k, v in memory.items()
        )
        best = min(memory["torch_nchw"], memory["torch_channels_last"])
        text += f" — glassnet / best PyTorch {memory['glassnet'] / best:.2f}×"
    print(text)
    if args.write:
        command = "python -m benchmarks.compare " + " ".join(sys.argv[1:] if argv is None else argv)
        write_results(
            "glassnet vs PyTorch, workload by workload", f"{describe_machine(2)}\n\n{text}", command
        )
    return text


if __name__ == "__main__":
    main()
