"""glassnet against JAX (jit) and tinygrad on the workloads W1–W5, in one process.

    python -m benchmarks.peers                       # W1–W5, table to stdout
    python -m benchmarks.peers --only W1 W2 --steps 30 --write
    python -m benchmarks.peers --only W4-1 W4-256 W5
    python -m benchmarks.peers --check               # no timing: losses and outputs

Why these peers: the performance issue asks glassnet to be faster than JAX-jit on W1–W3 and
faster than tinygrad everywhere. ``benchmarks.compare`` already measures PyTorch; this script
adds the two compiling frameworks for a one-off recorded run. JAX and tinygrad are not project
dependencies: they are imported lazily, and a side whose library is missing is left out with
a message (``pip install jax jaxlib tinygrad``).

What is timed, in float32 on ``benchmarks.compare``'s random batch, with the same architecture
and the same weights on every side (JAX's and tinygrad's are copied from glassnet's model):

- W1–W3, one training step — forward, softmax cross-entropy, backward, optimizer update:
  W1 MLP 784-256-128-10, ReLU, SGD momentum 0.9, lr 0.01, batch 128; W2 LeNet-5 on 28×28×1
  (``glassnet.applications.LeNet5``), Adam lr 1e-3, ε 1e-7, batch 64; W3 CIFAR CNN on
  32×32×3 (``benchmarks.compare.cifar_model``), SGD momentum 0.9, lr 0.01, batch 64.
- W4-1, W4-256: one forward pass (inference) of W3's CIFAR CNN on a batch of 1 and of 256;
  glassnet runs ``model.predict(x, batch_size=batch)``.
- W5: one ResNet-50 forward pass on one 224×224×3 image, BatchNormalization in inference mode
  (its moving statistics), softmax at the end; glassnet runs
  ``glassnet.applications.ResNet50().predict``. The peers' ResNet-50 is written out here
  (torchvision's v1.5 bottleneck layout, TensorFlow-style "same" padding as glassnet's) and
  loaded with glassnet's randomly initialised weights; building it checks every kernel's
  shape, and each peer's parameter count, against glassnet's (25,557,032).

The training and the W4 peers are rebuilt from ``layer_specs`` (a description of glassnet's
``Sequential``), W5's from ``resnet50_spec``. JAX: ``jax_model`` / ``jax_resnet50`` give a pure
NHWC forward (``lax.conv_general_dilated``, ``lax.reduce_window``); training differentiates it
in one ``jax.jit``-compiled step with hand-written SGD momentum and Adam updates (PyTorch's
formulas, as glassnet's optimizers use; optax is not needed), its state donated from step to
step; inference ``jax.jit``s it as it is. tinygrad: ``tinygrad_model`` / ``tinygrad_resnet50``
give an NCHW forward on ``nn.Conv2d`` / ``nn.Linear`` / ``nn.BatchNorm``; training adds
``nn.optim.SGD`` / ``nn.optim.Adam`` under ``Context(TRAINING=1)``; both run inside ``TinyJit``
(without it, if capturing fails; the table says so). Every step waits for its result: JAX with
``block_until_ready()``, tinygrad with ``.item()`` on the loss or ``.numpy()`` on the outputs.

``--check`` times nothing: it prints each side's loss over 20 training steps (W1–W3), and
checks that each peer's outputs equal glassnet's ``predict`` on the same batch to a float32
tolerance (W4-1, W4-256, W5; it exits with an error if one does not).

Both peers are forced onto the CPU with 2 threads, set through environment variables before
they are imported: ``JAX_PLATFORMS=cpu``, ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=true
intra_op_parallelism_threads=2``; ``DEV=CPU``, ``NUM_CPU_THREADS=2`` for tinygrad, whose CPU
backend compiles its kernels with clang (``CC`` is pointed at a versioned ``clang-NN`` when
there is no plain ``clang``). glassnet's BLAS gets 2 threads through threadpoolctl. The output
lists what was set.

Timing: after a warm-up of 3 steps per side (JIT compilation, TinyJit's capture; excluded and
reported separately), 5 rounds each run every side for a block of steps in turn, so a noisy
neighbour slows all sides alike; the first 2 steps of each block, and any begun in its first
200 ms (the previous side's threads still spin), are dropped, and the median of the rest (30 by
default, ``--steps``, rounded up to a multiple of 5; at least 200 on W4-1, a ~1 ms latency) is
reported. tinygrad is capped at 10 kept steps on W3 and W5, where it is slow on CPU. The ratio
column is glassnet's ms/step divided by the side's: below 1 glassnet is faster.

Run by hand, never by the test suite.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from benchmarks.compare import Workload, _data, _relu, _run_block, workloads
from benchmarks.machine import describe_machine, limit_threads, write_results
from glassnet import layers as L

THREADS = 2
ROUNDS = 5
DISCARD = 2  # steps dropped at the start of each block
SETTLE_MS = 200  # ... and any begun in its first 200 ms (the other side's threads still spin)
WARMUP = 3  # steps per side before timing: compile, TinyJit capture, first replay
TINYGRAD_CAPS = {"W3": 10, "W5": 10}  # kept steps for tinygrad where it is slow on CPU
INSTALL = "pip install jax jaxlib tinygrad"
OPTIMIZERS = {"W1": ("sgd", 0.01), "W2": ("adam", 1e-3), "W3": ("sgd", 0.01)}
INFERENCE = ("W4-1", "W4-256", "W5")
MIN_STEPS = {"W4-1": 200}  # kept steps at least: a batch-1 latency of ~1 ms is noisy
RESNET50_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # planes, blocks, stride
RESNET50_PARAMS = 25_557_032  # glassnet's and torchvision's, 224×224×3 and 1000 classes
MOMENTUM, BETA_1, BETA_2, EPSILON = 0.9, 0.9, 0.999, 1e-7

Step = Callable[[], object]


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a glassnet ``Sequential``, in a form any framework can rebuild.

    ``kind`` is "conv", "pool", "flatten" or "dense". ``weight`` is glassnet's kernel
    (HWIO for a convolution, (in, out) for a dense layer); ``flat_from`` is the (h, w, c) shape
    a dense layer right after a ``Flatten`` of an image receives.
    """

    kind: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    same: bool = False
    relu: bool = False
    pool: int = 0
    flat_from: tuple[int, ...] | None = None


@dataclass
class Side:
    """A framework's step (training or inference) for one workload and how it was built."""

    name: str
    step: Step | None  # None: the side failed to build or run
    note: str = ""
    steps: int = 30
    warmup_s: float = 0.0
    times: list[float] = field(default_factory=list)


# ----------------------------------------------------------------------------- environment
def configure_peers(threads: int = THREADS) -> dict[str, str]:
    """Force JAX and tinygrad onto the CPU with ``threads`` threads; return what was set.

    Must run before either library is imported: both read these variables at import time.
    """
    settings = {
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}",
        "DEV": "CPU",
        "NUM_CPU_THREADS": str(threads),
    }
    if shutil.which(os.environ.get("CC", "clang")) is None:
        versioned = next(
            (f"clang-{v}" for v in range(30, 10, -1) if shutil.which(f"clang-{v}")), None
        )
        if versioned:
            settings["CC"] = versioned
    os.environ.update(settings)
    late = [m for m in ("jax", "tinygrad") if m in sys.modules]
    if late:
        print(f"warning: {', '.join(late)} imported before configure_peers; settings may not hold")
    return settings


def peer_versions() -> str:
    """The installed JAX, jaxlib and tinygrad versions, for the results."""
    from importlib import metadata

    found = []
    for package in ("jax", "jaxlib", "tinygrad"):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} not installed")
    return ", ".join(found)


# ----------------------------------------------------------------------------- models
def layer_specs(model: object) -> list[LayerSpec]:
    """Describe a glassnet ``Sequential`` of Conv2D, MaxPooling2D, Flatten and Dense layers."""
    specs: list[LayerSpec] = []
    shape = model.input_shape
    flat_from = None
    for layer in model.layers:
        out = layer.compute_output_shape(shape)
        if isinstance(layer, L.Conv2D):
            if tuple(layer.strides) != (1, 1) or layer.padding not in ("same", "valid"):
                raise ValueError(f"unsupported convolution {layer.name}")
            specs.append(
                LayerSpec(
                    "conv",
                    layer.kernel.numpy().copy(),
                    layer.bias.numpy().copy(),
                    same=layer.padding == "same",
                    relu=_relu(layer),
                )
            )
        elif isinstance(layer, L.MaxPooling2D):
            size = tuple(layer.pool_size)
            if size != tuple(layer.strides) or size[0] != size[1]:
                raise ValueError(f"unsupported pooling {layer.name}")
            specs.append(LayerSpec("pool", pool=size[0]))
        elif isinstance(layer, L.Flatten):
            flat_from = tuple(shape[1:])
            specs.append(LayerSpec("flatten"))
        elif isinstance(layer, L.Dense):
            from_image = flat_from if flat_from is not None and len(flat_from) == 3 else None
            specs.append(
                LayerSpec(
                    "dense",
                    layer.kernel.numpy().copy(),
                    layer.bias.numpy().copy(),
                    relu=_relu(layer),
                    flat_from=from_image,
                )
            )
            flat_from = None
        else:
            raise ValueError(f"unsupported layer {type(layer).__name__}")
        shape = out
    return specs


@dataclass(frozen=True)
class ConvBN:
    """A bias-free convolution (HWIO kernel; "same" padding when larger than 1×1) followed by
    a BatchNormalization in inference mode (its moving statistics)."""

    kernel: np.ndarray
    stride: int
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    epsilon: float

    @property
    def size(self) -> int:
        return self.kernel.shape[0]

    @property
    def cin(self) -> int:
        return self.kernel.shape[2]

    @property
    def cout(self) -> int:
        return self.kernel.shape[3]

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights by name; ``mean`` and ``variance`` are not trained (not parameters)."""
        names = ("kernel", "gamma", "beta", "mean", "variance")
        return {name: getattr(self, name) for name in names}


BottleneckSpec = tuple[ConvBN, ConvBN, ConvBN, ConvBN | None]  # 1×1, 3×3, 1×1, shortcut


@dataclass(frozen=True)
class ResNetSpec:
    """ResNet-50 as plain arrays: the 7×7/2 stem (then a 3×3/2 max-pool), 16 bottleneck
    blocks, global average pooling and the 1000-way softmax classifier."""

    stem: ConvBN
    blocks: list[BottleneckSpec]
    dense_weight: np.ndarray
    dense_bias: np.ndarray

    def convs(self) -> list[ConvBN]:
        """Every convolution in the order the forward passes use them."""
        return [self.stem] + [c for block in self.blocks for c in block if c is not None]

    def count_params(self) -> int:
        """Trainable parameters, counted as glassnet and torchvision do (BN's gamma and beta
        are, its moving statistics are not)."""
        convs = sum(c.kernel.size + c.gamma.size + c.beta.size for c in self.convs())
        return int(convs + self.dense_weight.size + self.dense_bias.size)


def resnet50_spec(model: object) -> ResNetSpec:
    """ResNet-50's architecture, written out here (torchvision's v1.5 bottleneck layout), with
    the weights of glassnet's ``ResNet50()`` ``model``, whose every kernel must have the shape
    this architecture expects: the peers then run the same network on the same weights."""

    def conv_bn(conv: object, bn: object, size: int, cin: int, cout: int, stride: int) -> ConvBN:
        kernel = conv.kernel.numpy()
        if kernel.shape != (size, size, cin, cout) or tuple(conv.strides) != (stride, stride):
            raise ValueError(
                f"{conv.name}: kernel {kernel.shape} stride {conv.strides}, expected "
                f"{(size, size, cin, cout)} stride {stride}: not ResNet-50's architecture"
            )
        arrays = (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance)
        return ConvBN(kernel.copy(), stride, *(a.numpy().copy() for a in arrays), bn.epsilon)

    stem = conv_bn(model.get_layer("conv1"), model.get_layer("bn1"), 7, 3, 64, 2)
    blocks: list[BottleneckSpec] = []
    cin = 64
    for stage, (planes, count, first_stride) in enumerate(RESNET50_STAGES, 1):
        for index in range(count):
            b = model.get_layer(f"layer{stage}_{index}")
            stride, out = first_stride if index == 0 else 1, planes * 4
            shortcut = None
            if stride != 1 or cin != out:
                shortcut = conv_bn(*b.downsample, 1, cin, out, stride)
            blocks.append(
                (
                    conv_bn(b.conv1, b.bn1, 1, cin, planes, 1),
                    conv_bn(b.conv2, b.bn2, 3, planes, planes, stride),
                    conv_bn(b.conv3, b.bn3, 1, planes, out, 1),
                    shortcut,
                )
            )
            cin = out
    dense = model.layers[-1]
    softmax = getattr(getattr(dense, "activation", None), "__name__", "") == "softmax"
    if not isinstance(dense, L.Dense) or dense.kernel.shape != (cin, 1000) or not softmax:
        raise ValueError("ResNet-50's classifier must be a Dense layer 2048 -> 1000, softmax")
    net = ResNetSpec(stem, blocks, dense.kernel.numpy().copy(), dense.bias.numpy().copy())
    glassnet_count = sum(int(w.size) for w in model.trainable_weights)
    if not net.count_params() == glassnet_count == RESNET50_PARAMS:
        raise ValueError(
            f"ResNet-50 parameters: {net.count_params():,} here, {glassnet_count:,} in glassnet, "
            f"expected {RESNET50_PARAMS:,}"
        )
    return net


def _trainable(params: list) -> list:
    """JAX ResNet parameters less the BatchNormalization moving statistics."""
    return [
        {k: v for k, v in p.items() if k not in ("mean", "variance")} if isinstance(p, dict) else p
        for p in params
    ]


def _is_trainable(key: str) -> bool:
    return not key.endswith(("running_mean", "running_var", "num_batches_tracked"))


def _check_count(side: str, count: int) -> None:
    if count != RESNET50_PARAMS:
        raise ValueError(f"{side}'s ResNet-50 has {count:,} parameters, not {RESNET50_PARAMS:,}")


# ----------------------------------------------------------------------------- JAX
JaxForward = Callable[[object, object], object]  # (params, NHWC images or rows) -> outputs


def jax_model(specs: list[LayerSpec]) -> tuple[list, JaxForward]:
    """The ``Sequential`` described by ``specs`` in JAX (NHWC): its parameters and a pure
    ``forward(params, x)``, to differentiate (training) or to ``jax.jit`` as it is (inference)."""
    import jax.numpy as jnp
    from jax import lax

    params = [(jnp.asarray(s.weight), jnp.asarray(s.bias)) for s in specs if s.weight is not None]

    def forward(params: list, h: object) -> object:
        weights = iter(params)
        for s in specs:
            if s.kind == "conv":
                w, b = next(weights)
                padding = "SAME" if s.same else "VALID"
                h = lax.conv_general_dilated(
                    h, w, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC")
                )
                h = h + b
            elif s.kind == "pool":
                window = (1, s.pool, s.pool, 1)
                h = lax.reduce_window(h, -jnp.inf, lax.max, window, window, "VALID")
            elif s.kind == "flatten":
                h = h.reshape(h.shape[0], -1)  # NHWC order, as glassnet's Flatten
            else:
                w, b = next(weights)
                h = h @ w + b
            if s.relu:
                h = jnp.maximum(h, 0)
        return h

    return params, forward


def jax_resnet50(net: ResNetSpec) -> tuple[list, JaxForward]:
    """ResNet-50 in JAX (NHWC, BatchNormalization with the moving statistics, softmax at the
    end): its parameters and ``forward(params, images)``. "SAME" padding is TensorFlow's, as
    glassnet's; the parameter count is checked against glassnet's."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    params = [{k: jnp.asarray(v) for k, v in c.arrays().items()} for c in net.convs()] + [
        (jnp.asarray(net.dense_weight), jnp.asarray(net.dense_bias))
    ]
    _check_count("JAX", sum(int(v.size) for v in jax.tree_util.tree_leaves(_trainable(params))))

    def conv_bn(c: ConvBN, p: dict, h: object, relu: bool) -> object:
        padding = "SAME" if c.size > 1 else "VALID"
        h = lax.conv_general_dilated(
            h,
            p["kernel"],
            (c.stride, c.stride),
            padding,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        h = (h - p["mean"]) * (p["gamma"] * lax.rsqrt(p["variance"] + c.epsilon)) + p["beta"]
        return jnp.maximum(h, 0) if relu else h

    def forward(params: list, h: object) -> object:
        convs = iter(zip(net.convs(), params, strict=False))
        h = conv_bn(*next(convs), h, relu=True)
        h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "SAME")
        for block in net.blocks:
            out = h
            for i in range(3):
                out = conv_bn(*next(convs), out, relu=i < 2)
            shortcut = conv_bn(*next(convs), h, relu=False) if block[3] is not None else h
            h = jnp.maximum(out + shortcut, 0)
        w, b = params[-1]
        return jax.nn.softmax(jnp.mean(h, axis=(1, 2)) @ w + b, axis=-1)

    return params, forward


def jax_training(
    specs: list[LayerSpec], x: np.ndarray, y: np.ndarray, optimizer: str, lr: float
) -> Step:
    """A ``jax.jit`` training step on a fixed batch; each call returns the (synchronised) loss."""
    import jax
    import jax.numpy as jnp

    params, forward = jax_model(specs)

    def loss_fn(params: list, xb: jax.Array, yb: jax.Array) -> jax.Array:
        logits = forward(params, xb)
        picked = jnp.take_along_axis(logits, yb[:, None], axis=1)[:, 0]
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - picked)

    tree_map = jax.tree_util.tree_map

    def zeros() -> list:
        return tree_map(jnp.zeros_like, params)  # a fresh buffer each: all are donated

    if optimizer == "sgd":
        state = (params, zeros())

        def update(state: tuple, grads: list) -> tuple:
            params, buf = state
            buf = tree_map(lambda b, g: MOMENTUM * b + g, buf, grads)
            return tree_map(lambda p, b: p - lr * b, params, buf), buf

    else:
        state = (params, zeros(), zeros(), jnp.zeros((), jnp.float32))

        def update(state: tuple, grads: list) -> tuple:
            params, m, v, t = state
            t = t + 1
            m = tree_map(lambda m, g: m + (1 - BETA_1) * (g - m), m, grads)
            v = tree_map(lambda v, g: BETA_2 * v + (1 - BETA_2) * g * g, v, grads)
            c1, c2 = 1 - BETA_1**t, 1 - BETA_2**t
            params = tree_map(
                lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + EPSILON), params, m, v
            )
            return params, m, v, t

    def train(state: tuple, xb: jax.Array, yb: jax.Array) -> tuple:
        loss, grads = jax.value_and_grad(loss_fn)(state[0], xb, yb)
        return update(state, grads), loss

    train = jax.jit(train, donate_argnums=0)
    xb, yb = jnp.asarray(x), jnp.asarray(y.astype(np.int32))
    holder = [state]

    def step() -> object:
        holder[0], loss = train(holder[0], xb, yb)
        return loss.block_until_ready()

    return step


def jax_inference(model: tuple[object, JaxForward], x: np.ndarray) -> Step:
    """A ``jax.jit``-compiled forward pass on the fixed NHWC batch ``x``; each call returns the
    outputs, waited for with ``block_until_ready()`` (``np.asarray`` them to compare)."""
    import jax
    import jax.numpy as jnp

    params, forward = model
    predict = jax.jit(forward)
    xb = jnp.asarray(x)

    def step() -> object:
        return predict(params, xb).block_until_ready()

    return step


# ----------------------------------------------------------------------------- tinygrad
TinyForward = Callable[[object], object]  # NCHW images (or rows) -> outputs, as tinygrad Tensors


def tinygrad_model(specs: list[LayerSpec]) -> tuple[list, TinyForward]:
    """The ``Sequential`` described by ``specs`` in tinygrad (NCHW): its modules and
    ``forward(x)``; a Dense layer right after a Flatten gets its rows reordered to (c, h, w)."""
    from tinygrad import Tensor, nn

    modules: list[tuple[LayerSpec, object]] = []
    for s in specs:
        module = None
        if s.kind == "conv":
            kh, kw, cin, cout = s.weight.shape
            module = nn.Conv2d(cin, cout, (kh, kw), padding="same" if s.same else 0)
            module.weight = Tensor(np.ascontiguousarray(s.weight.transpose(3, 2, 0, 1)))
            module.bias = Tensor(s.bias)
        elif s.kind == "dense":
            kernel = s.weight
            if s.flat_from is not None:  # inputs arrive flattened as (c, h, w), not (h, w, c)
                h, w, c = s.flat_from
                kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
            module = nn.Linear(*kernel.shape)
            module.weight = Tensor(np.ascontiguousarray(kernel.T))
            module.bias = Tensor(s.bias)
        modules.append((s, module))

    def forward(h: Tensor) -> Tensor:
        for s, module in modules:
            if s.kind == "pool":
                h = h.max_pool2d((s.pool, s.pool))
            elif s.kind == "flatten":
                h = h.flatten(1)
            else:
                h = module(h)
            if s.relu:
                h = h.relu()
        return h

    return [m for _, m in modules if m is not None], forward


def tinygrad_resnet50(net: ResNetSpec) -> tuple[list, TinyForward]:
    """ResNet-50 in tinygrad (NCHW; ``nn.Conv2d``, ``nn.BatchNorm`` with its running statistics
    outside ``TRAINING``; softmax at the end): its modules and ``forward(images)``. Convolutions
    and the stem's max-pool pad TensorFlow's "same" way, as glassnet's; the parameter count is
    checked against glassnet's."""
    from tinygrad import Tensor, nn

    def make(c: ConvBN) -> tuple[ConvBN, object, object]:
        conv = nn.Conv2d(c.cin, c.cout, c.size, c.stride, bias=False)
        conv.weight = Tensor(np.ascontiguousarray(c.kernel.transpose(3, 2, 0, 1)))
        bn = nn.BatchNorm(c.cout, eps=c.epsilon)
        bn.weight, bn.bias = Tensor(c.gamma), Tensor(c.beta)
        bn.running_mean, bn.running_var = Tensor(c.mean), Tensor(c.variance)
        return c, conv, bn

    layers = [make(c) for c in net.convs()]
    fc = nn.Linear(*net.dense_weight.shape)
    fc.weight = Tensor(np.ascontiguousarray(net.dense_weight.T))
    fc.bias = Tensor(net.dense_bias)
    modules = [m for _, conv, bn in layers for m in (conv, bn)] + [fc]
    state = nn.state.get_state_dict(modules)
    _check_count("tinygrad", sum(t.numel() for k, t in state.items() if _is_trainable(k)))

    def conv_bn(c: ConvBN, conv: object, bn: object, h: Tensor, relu: bool) -> Tensor:
        pads = _same_pads(h.shape[3], c.size, c.stride) + _same_pads(h.shape[2], c.size, c.stride)
        h = bn(h.conv2d(conv.weight, stride=c.stride, padding=pads))
        return h.relu() if relu else h

    def forward(h: Tensor) -> Tensor:
        convs = iter(layers)
        h = conv_bn(*next(convs), h, relu=True)
        h = h.max_pool2d(
            (3, 3), 2, padding=_same_pads(h.shape[3], 3, 2) + _same_pads(h.shape[2], 3, 2)
        )
        for block in net.blocks:
            out = h
            for i in range(3):
                out = conv_bn(*next(convs), out, relu=i < 2)
            shortcut = conv_bn(*next(convs), h, relu=False) if block[3] is not None else h
            h = (out + shortcut).relu()
        return fc(h.mean(axis=(2, 3))).softmax(-1)

    return modules, forward


def tinygrad_training(
    specs: list[LayerSpec],
    x: np.ndarray,
    y: np.ndarray,
    optimizer: str,
    lr: float,
    jit: bool = True,
) -> Step:
    """A tinygrad training step (NCHW) on a fixed batch; each call returns the loss as a float."""
    from tinygrad import Tensor, TinyJit, nn
    from tinygrad.helpers import Context

    modules, forward = tinygrad_model(specs)
    params = nn.state.get_parameters(modules)
    if optimizer == "sgd":
        opt = nn.optim.SGD(params, lr=lr, momentum=MOMENTUM)
    else:
        opt = nn.optim.Adam(params, lr=lr, b1=BETA_1, b2=BETA_2, eps=EPSILON)
    xt, yt = Tensor(_nchw(x)).realize(), Tensor(y.astype(np.int32)).realize()

    def train(xb: Tensor, yb: Tensor) -> Tensor:
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = forward(xb).sparse_categorical_crossentropy(yb).backward()
            # loss and update in one schedule, so the loss is the one before the update
            return loss.realize(*opt.schedule_step())

    if jit:
        train = TinyJit(train)

    def step() -> float:
        return train(xt, yt).item()  # .item() copies the loss out, which waits for the device

    return step


def tinygrad_inference(model: tuple[list, TinyForward], x: np.ndarray, jit: bool = True) -> Step:
    """A tinygrad forward pass on the fixed batch ``x`` (NHWC, transposed to NCHW once), inside
    ``TinyJit`` unless ``jit=False``; each call copies the outputs to NumPy, which waits."""
    from tinygrad import Tensor, TinyJit

    _, forward = model
    xt = Tensor(_nchw(x)).realize()

    def predict(xb: Tensor) -> Tensor:
        return forward(xb).realize()

    if jit:
        predict = TinyJit(predict)

    def step() -> np.ndarray:
        return predict(xt).numpy()

    return step


def _nchw(x: np.ndarray) -> np.ndarray:
    return x if x.ndim == 2 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's (and glassnet's) "same" padding of one axis: the odd pixel goes after."""
    if kernel == 1:
        return 0, 0
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


# ----------------------------------------------------------------------------- sides
def peer_builders(
    workload: Workload, model: object, x: np.ndarray, y: np.ndarray
) -> tuple[Callable[[], Step], Callable[[bool], Step]]:
    """How to build JAX's step and tinygrad's (given ``jit``) for ``workload``, on glassnet's
    ``model`` (whose weights they copy) and the batch ``x``, ``y``."""
    if workload.training:
        specs = layer_specs(model)
        optimizer, lr = OPTIMIZERS[workload.name]
        return (
            lambda: jax_training(specs, x, y, optimizer, lr),
            lambda jit: tinygrad_training(specs, x, y, optimizer, lr, jit=jit),
        )
    if workload.name == "W5":
        net = resnet50_spec(model)
        return (
            lambda: jax_inference(jax_resnet50(net), x),
            lambda jit: tinygrad_inference(tinygrad_resnet50(net), x, jit=jit),
        )
    specs = layer_specs(model)
    return (
        lambda: jax_inference(jax_model(specs), x),
        lambda jit: tinygrad_inference(tinygrad_model(specs), x, jit=jit),
    )


def build_sides(workload: Workload, steps: int) -> list[Side]:
    """glassnet's step and, where installed and working, JAX's and tinygrad's, warmed up."""
    glassnet_step, _ = workload.glassnet()
    model = workload.glassnet.model
    x, y = _data(workload.batch, model.input_shape[1:])
    make_jax, make_tinygrad = peer_builders(workload, model, x, y)

    sides = [Side("glassnet", glassnet_step, steps=steps)]
    try:
        import jax  # noqa: F401

        sides.append(Side("jax (jit)", make_jax(), steps=steps))
    except ImportError:
        print(f"JAX is not installed: {INSTALL}")
    for side in sides:
        side.warmup_s = _warm(side.step)
    try:
        import tinygrad  # noqa: F401
    except ImportError:
        print(f"tinygrad is not installed: {INSTALL}")
        return sides
    tiny = Side("tinygrad (TinyJit)", None)
    tiny.steps = min(steps, TINYGRAD_CAPS.get(workload.name, steps))
    capped = f"capped at {tiny.steps} kept steps" if tiny.steps < steps else ""
    tiny.note = capped
    try:
        tiny.step = make_tinygrad(True)
        tiny.warmup_s = _warm(tiny.step)
    except Exception as error:  # a peer failing must not stop the others
        reason = _reason(error)
        print(f"TinyJit failed ({reason}); tinygrad runs without jit")
        tiny.name = "tinygrad (no jit)"
        tiny.note = ", ".join(filter(None, [capped, f"TinyJit failed: {reason}"]))
        try:
            tiny.step = make_tinygrad(False)
            tiny.warmup_s = _warm(tiny.step)
        except Exception as again:  # e.g. no clang: tinygrad's CPU backend compiles with one
            reason = _reason(again)
            print(
                f"tinygrad failed without jit too ({reason}); left out. Its CPU backend compiles "
                "with clang: install one (apt-get install clang) or point CC at it"
            )
            tiny.name, tiny.note, tiny.step = "tinygrad", f"failed: {reason}", None
    sides.append(tiny)
    return sides


def _reason(error: Exception) -> str:
    lines = str(error).splitlines() or [""]
    return f"{type(error).__name__}: {lines[0][:100]}"


def _warm(step: Step) -> float:
    start = time.perf_counter()
    for _ in range(WARMUP):
        step()
    return time.perf_counter() - start


def measure(sides: list[Side]) -> None:
    """Alternate the sides in blocks over ``ROUNDS`` rounds; fill each side's ``times`` (ms).

    As in ``benchmarks.compare.measure``, a block's first ``DISCARD`` steps and any begun in
    its first ``SETTLE_MS`` are dropped, while the previous side's worker threads still spin.
    """
    for _ in range(ROUNDS):
        for side in sides:
            if side.step is not None:
                kept = math.ceil(side.steps / ROUNDS)
                side.times += _run_block(side.step, kept, DISCARD, SETTLE_MS)


def report(results: dict[str, list[Side]], chosen: list[Workload]) -> str:
    """A Markdown table: workload, side, median ms/step, glassnet / side, and warm-up times."""
    lines = [
        "| workload | side | ms/step | glassnet / side |",
        "|---|---|---|---|",
    ]
    warmups = []
    for workload in chosen:
        sides = results[workload.name]
        glassnet_ms = statistics.median(sides[0].times)
        for side in sides:
            label = f"{side.name}, {side.note}" if side.note else side.name
            if not side.times:
                lines.append(f"| {workload.name} {workload.title} | {label} | – | – |")
                continue
            ms = statistics.median(side.times)
            ratio = "1.00" if side is sides[0] else f"**{glassnet_ms / ms:.2f}**"
            lines.append(
                f"| {workload.name} {workload.title} | {label} ({len(side.times)} steps) "
                f"| {ms:.2f} | {ratio} |"
            )
            warmups.append(f"{workload.name} {side.name} {side.warmup_s:.1f} s")
    lines += [
        "",
        "glassnet / side < 1: glassnet is faster. Warm-up (first "
        f"{WARMUP} steps, compilation included, not timed above): " + "; ".join(warmups) + ".",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- checks
def check_losses(chosen: list[Workload], steps: int = 20) -> None:
    """Print each side's loss over ``steps`` training steps on the fixed batch (no timing)."""
    for workload in chosen:
        workload.glassnet()
        model = workload.glassnet.model
        x, y = _data(workload.batch, model.input_shape[1:])
        make_jax, make_tinygrad = peer_builders(workload, model, x, y)
        sides: dict[str, Step] = {"glassnet": lambda m=model, x=x, y=y: m.train_step(x, y)}
        try:
            sides["jax"] = make_jax()
        except ImportError:
            print(f"JAX is not installed: {INSTALL}")
        try:
            sides["tinygrad"] = make_tinygrad(True)
        except ImportError:
            print(f"tinygrad is not installed: {INSTALL}")
        for name, step in sides.items():
            losses = [float(step()) for _ in range(steps)]
            shown = " ".join(f"{v:.4f}" for v in losses[:: max(1, steps // 5)])
            verdict = "decreases" if losses[-1] < losses[0] else "DOES NOT DECREASE"
            print(f"{workload.name} {name:9s} {shown} ... {losses[-1]:.4f} ({verdict})")


def check_outputs(chosen: list[Workload], rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Compare each peer's forward outputs with glassnet's ``predict`` on the same batch, to a
    float32 tolerance (``atol`` scaled by the largest output); print and return whether all do.

    W5 is compared too: its peers run on glassnet's ResNet-50 weights (``rtol`` is 10× looser
    there, for 50 float32 layers). Each peer's output is that of its ``WARMUP``-th call, which
    TinyJit replays, as in the timed steps.
    """
    matched = True
    for workload in chosen:
        workload.glassnet()
        model = workload.glassnet.model
        x, y = _data(workload.batch, model.input_shape[1:])
        expected = model.predict(x, batch_size=workload.batch)
        make_jax, make_tinygrad = peer_builders(workload, model, x, y)
        tolerance = rtol * (10 if workload.name == "W5" else 1)
        for name, make in (("jax", make_jax), ("tinygrad", partial(make_tinygrad, True))):
            try:
                step = make()
            except ImportError:
                print(f"{name} is not installed: {INSTALL}")
                continue
            for _ in range(WARMUP):  # TinyJit runs, captures, then replays: check a replay
                got = np.asarray(step())
            scale = float(np.abs(expected).max()) or 1.0  # W5's softmax outputs are ~1e-3
            ok = got.shape == expected.shape and np.allclose(
                got, expected, rtol=tolerance, atol=atol * scale
            )
            diff = float(np.abs(got - expected).max()) if got.shape == expected.shape else math.inf
            verdict = "matches glassnet" if ok else "DIFFERS FROM GLASSNET"
            print(
                f"{workload.name:6s} {name:9s} outputs {got.shape}, max |peer - glassnet| "
                f"{diff:.2e} (largest output {np.abs(expected).max():.3g}): {verdict}"
            )
            matched &= ok
    return matched


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> str:
    """Run the chosen workloads on every installed side, print the table, optionally record it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", nargs="*", help="workload names among W1 W2 W3 W4-1 W4-256 W5 (default all)"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=30,
        help="kept steps per side, rounded up to a multiple of 5 (default 30)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="no timing: print training losses over 20 steps, compare inference outputs",
    )
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    settings = configure_peers(THREADS)
    limit_threads(THREADS, torch=False)
    known = (*OPTIMIZERS, *INFERENCE)
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        parser.error(f"unknown workloads {' '.join(unknown)}; choose among {' '.join(known)}")
    chosen = [w for w in workloads() if w.name in known and (not args.only or w.name in args.only)]
    if args.check:
        check_losses([w for w in chosen if w.training])
        if not check_outputs([w for w in chosen if not w.training]):
            raise SystemExit("a peer's outputs differ from glassnet's")
        return ""
    setup = (
        f"Peers: {peer_versions()}. Settings: "
        + ", ".join(f"{k}={v!r}" for k, v in settings.items())
        + f"; glassnet's BLAS limited to {THREADS} threads (threadpoolctl)."
    )
    print(setup, flush=True)
    results = {}
    for w in chosen:
        print(f"{w.name}: {w.title} ...", flush=True)
        sides = build_sides(w, max(1, args.steps, MIN_STEPS.get(w.name, 0)))
        measure(sides)
        results[w.name] = sides
    text = report(results, chosen)
    print(text)
    if args.write:
        command = "python -m benchmarks.peers " + " ".join(sys.argv[1:] if argv is None else argv)
        write_results(
            "glassnet vs JAX (jit) and tinygrad",
            f"{describe_machine(THREADS)}\n- {setup}\n\n{text}",
            command,
        )
    return text


if __name__ == "__main__":
    main()
