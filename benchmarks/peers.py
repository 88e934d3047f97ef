"""glassnet against JAX (jit) and tinygrad on the three training workloads W1–W3, in one process.

    python -m benchmarks.peers                       # W1–W3, table to stdout
    python -m benchmarks.peers --only W1 W2 --steps 30 --write
    python -m benchmarks.peers --check               # losses over 20 steps, no timing

Why these peers: the performance issue asks glassnet to be faster than JAX-jit on W1–W3 and
faster than tinygrad everywhere. ``benchmarks.compare`` already measures PyTorch; this script
adds the two compiling frameworks for a one-off recorded run. JAX and tinygrad are not project
dependencies: they are imported lazily, and a side whose library is missing is left out with
a message (``pip install jax jaxlib tinygrad``).

What is timed, for each workload: one training step — forward, softmax cross-entropy, backward,
optimizer update — in float32 on ``benchmarks.compare``'s random batch, with the same
architecture and the same initial weights (JAX's and tinygrad's are copied from glassnet's):

- W1: MLP 784-256-128-10, ReLU, SGD momentum 0.9, lr 0.01, batch 128;
- W2: LeNet-5 on 28×28×1 (``glassnet.applications.LeNet5``), Adam lr 1e-3, ε 1e-7, batch 64;
- W3: CIFAR CNN on 32×32×3, SGD momentum 0.9, lr 0.01, batch 64.

glassnet runs ``benchmarks.compare.glassnet_training``'s step. JAX runs one ``jax.jit``-compiled
function (``lax.conv_general_dilated`` / ``lax.reduce_window``, NHWC) with hand-written SGD
momentum and Adam updates (PyTorch's formulas, as glassnet's optimizers use; optax is not
needed), its state donated from step to step. tinygrad runs ``nn.Conv2d`` / ``nn.Linear``
(NCHW) with ``nn.optim.SGD`` / ``nn.optim.Adam`` under ``Context(TRAINING=1)``, inside
``TinyJit`` (without it, if capturing fails; the table says so). Every step waits for its result:
JAX with ``block_until_ready()``, tinygrad with ``.item()`` on the loss.

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
default, ``--steps``, rounded up to a multiple of 5) is reported. tinygrad on
W3 is capped at 10 kept steps. The ratio column is glassnet's ms/step divided by the side's:
below 1 glassnet is faster.

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

import numpy as np

from benchmarks.compare import Workload, _data, _relu, _run_block, workloads
from benchmarks.machine import describe_machine, limit_threads, write_results
from glassnet import layers as L

THREADS = 2
ROUNDS = 5
DISCARD = 2  # steps dropped at the start of each block
SETTLE_MS = 200  # ... and any begun in its first 200 ms (the other side's threads still spin)
WARMUP = 3  # steps per side before timing: compile, TinyJit capture, first replay
TINYGRAD_W3_CAP = 10  # kept steps for tinygrad on W3, which is slow on CPU
INSTALL = "pip install jax jaxlib tinygrad"
OPTIMIZERS = {"W1": ("sgd", 0.01), "W2": ("adam", 1e-3), "W3": ("sgd", 0.01)}
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
    """A framework's training step for one workload and how it was built."""

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


# ----------------------------------------------------------------------------- JAX
def jax_training(
    specs: list[LayerSpec], x: np.ndarray, y: np.ndarray, optimizer: str, lr: float
) -> Step:
    """A ``jax.jit`` training step on a fixed batch; each call returns the (synchronised) loss."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    params = [(jnp.asarray(s.weight), jnp.asarray(s.bias)) for s in specs if s.weight is not None]

    def forward(params: list, h: jax.Array) -> jax.Array:
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


# ----------------------------------------------------------------------------- tinygrad
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

    params = nn.state.get_parameters([m for _, m in modules if m is not None])
    if optimizer == "sgd":
        opt = nn.optim.SGD(params, lr=lr, momentum=MOMENTUM)
    else:
        opt = nn.optim.Adam(params, lr=lr, b1=BETA_1, b2=BETA_2, eps=EPSILON)
    images = x if x.ndim == 2 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    xt, yt = Tensor(images).realize(), Tensor(y.astype(np.int32)).realize()

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


# ----------------------------------------------------------------------------- sides
def build_sides(workload: Workload, steps: int) -> list[Side]:
    """glassnet's step and, where installed and working, JAX's and tinygrad's, warmed up."""
    glassnet_step, _ = workload.glassnet()
    model = workload.glassnet.model
    specs = layer_specs(model)
    x, y = _data(workload.batch, model.input_shape[1:])
    optimizer, lr = OPTIMIZERS[workload.name]

    sides = [Side("glassnet", glassnet_step, steps=steps)]
    try:
        import jax  # noqa: F401

        sides.append(Side("jax (jit)", jax_training(specs, x, y, optimizer, lr), steps=steps))
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
    tiny.steps = min(steps, TINYGRAD_W3_CAP) if workload.name == "W3" else steps
    capped = f"capped at {tiny.steps} kept steps" if tiny.steps < steps else ""
    tiny.note = capped
    try:
        tiny.step = tinygrad_training(specs, x, y, optimizer, lr)
        tiny.warmup_s = _warm(tiny.step)
    except Exception as error:  # a peer failing must not stop the others
        reason = _reason(error)
        print(f"TinyJit failed ({reason}); tinygrad runs without jit")
        tiny.name = "tinygrad (no jit)"
        tiny.note = ", ".join(filter(None, [capped, f"TinyJit failed: {reason}"]))
        try:
            tiny.step = tinygrad_training(specs, x, y, optimizer, lr, jit=False)
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


# ----------------------------------------------------------------------------- loss check
def check_losses(chosen: list[Workload], steps: int = 20) -> None:
    """Print each side's loss over ``steps`` training steps on the fixed batch (no timing)."""
    for workload in chosen:
        workload.glassnet()
        model = workload.glassnet.model
        specs = layer_specs(model)
        x, y = _data(workload.batch, model.input_shape[1:])
        optimizer, lr = OPTIMIZERS[workload.name]
        sides: dict[str, Step] = {"glassnet": lambda m=model, x=x, y=y: m.train_step(x, y)}
        try:
            sides["jax"] = jax_training(specs, x, y, optimizer, lr)
        except ImportError:
            print(f"JAX is not installed: {INSTALL}")
        try:
            sides["tinygrad"] = tinygrad_training(specs, x, y, optimizer, lr)
        except ImportError:
            print(f"tinygrad is not installed: {INSTALL}")
        for name, step in sides.items():
            losses = [float(step()) for _ in range(steps)]
            shown = " ".join(f"{v:.4f}" for v in losses[:: max(1, steps // 5)])
            verdict = "decreases" if losses[-1] < losses[0] else "DOES NOT DECREASE"
            print(f"{workload.name} {name:9s} {shown} ... {losses[-1]:.4f} ({verdict})")


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> str:
    """Run the chosen workloads on every installed side, print the table, optionally record it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="workload names among W1 W2 W3")
    parser.add_argument(
        "--steps",
        type=int,
        default=30,
        help="kept steps per side, rounded up to a multiple of 5 (default 30)",
    )
    parser.add_argument("--check", action="store_true", help="print losses over 20 steps only")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    settings = configure_peers(THREADS)
    limit_threads(THREADS, torch=False)
    chosen = [
        w for w in workloads() if w.name in OPTIMIZERS and (not args.only or w.name in args.only)
    ]
    if args.check:
        check_losses(chosen)
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
        sides = build_sides(w, max(1, args.steps))
        measure(sides)
        results[w.name] = sides
    text = report(results, chosen)
    print(text)
    if args.write:
        command = "python -m benchmarks.peers " + " ".join(sys.argv[1:] if argv is None else argv)
        write_results(
            "glassnet vs JAX (jit) and tinygrad, training workloads",
            f"{describe_machine(THREADS)}\n- {setup}\n\n{text}",
            command,
        )
    return text


if __name__ == "__main__":
    main()
