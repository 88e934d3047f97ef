"""Where a glassnet step's time goes, workload by workload: time by phase and by op.

    python -m benchmarks.profile                          # every workload of benchmarks.compare
    python -m benchmarks.profile --only W3 P1 P2 --steps 40
    python -m benchmarks.profile --only P1 --write /tmp/profile-p1.md   # append the report

``--write`` alone appends to ``benchmarks/NOTES.md``; ``--steps`` profiled steps (and as many
without the timers) follow ``--warmup`` steps, at least ``--min-seconds`` of each.

For glassnet's side of each workload in ``benchmarks.compare.workloads()`` (built by the same
builders), after warm-up steps — so that what runs is what ``fit`` runs from its third batch
on: the replayed tape (``models.replay``), half a batch per core where the step pays for it —
the profiler times steps and reports:

* the step's wall time, the median per step, with and without the profiler's timers, and
  the difference (the profiler's own overhead: blocks of steps with and without the timers
  alternate, so a noisy neighbour slows both alike);
* a table by phase: GEMM, unfold (im2col copies), fold (col2im, the input gradient's
  scatter), padding, the convolutions' own time, pooling, normalization, element-wise passes
  (activations, bias, dropout, additions), recurrent cells, image resampling (augmentation,
  resizing), the loss, the optimizer's update, other ops, the autograd graph's bookkeeping
  (only where a step runs through the graph rather than a tape), waiting at the barrier
  where the shares of a batch exchange batch statistics or random draws, a worker thread's
  idle time outside its share, and "Python and the rest": what no timer covered (the tape's
  and the step's own Python, the shares' gradient sums, thread hand-offs);
* the top ops: each ``Function`` subclass, forward and backward apart, with its calls and
  time per step and the phases inside it.

How it measures. Nothing in the engine changes: while a block of profiled steps runs, the
profiler replaces, at run time, every ``Function`` subclass's static ``forward`` and
``backward``, the kernel helpers the convolution calls (``ops._conv_kernels``' ``ConvPlan``
stages ``im2col``, ``product``, ``forward``, ``weight_grad``, ``input_grad_cols`` and
``input_grad_as_conv``, ``columns``, ``copy_windows``, ``_conv_in_chunks``,
``_weight_grad_in_chunks``; ``ops.conv``'s ``pad_images``, ``im2col`` and ``col2im``), the
bias and ReLU helpers (``tensor.add_to_rows``, ``tensor.sum_rows``, ``ops.activation``'s
``relu_``, ``fused_relu``, ``fused_relu_grad``), batch normalization's inference kernel
(``ops.normalization.batch_norm_inference``, also inside ``ops.fused.ConvBatchNormOp``),
the loss (``models.replay._loss`` and the loss's ``Tensor.backward``), the optimizer's
update (``Optimizer._update``), the shares' barrier (``parallel.Share.gather``) and
``split_over_cores`` (to know each thread's share), by timing wrappers, and puts the
originals back afterwards.

Timers are ``time.perf_counter`` intervals kept per thread, nested: each interval counts
in the innermost timed stage, and an enclosing stage gets only the rest (its own time).
Phases that are one kind of work (pooling, normalization, element-wise ops, the loss, the
optimizer) keep everything timed inside them in their phase (batch normalization's sums stay
normalization); the convolution and Dense ops hand their kernels' time to the kernels'
phases. Numbers are thread-milliseconds per step: training runs half a batch per core on
two Python threads at once, so a step of wall time T on 2 threads has 2·T thread-ms, and the
phases add up to that (100 %). A thread waiting for the GIL or a core while in a stage counts
in that stage; the report also gives the threads' CPU time (``time.thread_time``) as a share
of their thread-ms. Where a step runs in order on one Python thread (the BLAS then uses both
cores inside each product), 100 % is the step's wall time, one thread.

What cannot be timed apart is inline code and is said so in the report: the products of
``LinearOp`` and ``MatMulOp`` are their own time (counted as GEMM); the ReLU mask a chunked
convolution keeps for backward, its reshapes and a depthwise convolution's taps are
"the convolutions' own time"; the shares' gradient sums in ``models.replay`` are "Python and
the rest". Inside the ops of pooling, normalization and the like, their copies and sums are
their phase's.

Run by hand on a quiet machine, never by the test suite for timing (its test profiles a
small model for a few steps and checks the report's structure).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import math
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from benchmarks.compare import Workload, workloads
from benchmarks.machine import describe_machine, limit_threads

# ----------------------------------------------------------------------------- the phases
GEMM = "GEMM (matrix products)"
UNFOLD = "unfold (im2col copies)"
FOLD = "fold (col2im: the input gradient's scatter)"
PAD = "padding (pad_images)"
CONV = "convolutions' own time (ReLU mask, reshapes, depthwise taps, op Python)"
POOL = "pooling"
NORM = "normalization"
ELEMENTWISE = "element-wise (activations, bias, dropout, add...)"
RECURRENT = "recurrent cells (their products and gates)"
AUGMENT = "image resampling (augmentation and its draws, resizing, upsampling)"
LOSS = "loss (forward and backward)"
OPTIMIZER = "optimizer update"
OTHER = "other ops (reshape, concat, reductions...)"
GRAPH = "autograd graph (Tensor.backward's bookkeeping)"
WAIT = "waiting for the other shares (batch statistics, draws)"
IDLE = "worker thread idle (outside its share)"
REST = "Python and the rest"

#: The rows of the phase table, in order.
PHASES = (
    GEMM, UNFOLD, FOLD, PAD, CONV, POOL, NORM, ELEMENTWISE, RECURRENT, AUGMENT, LOSS,
    OPTIMIZER, OTHER, GRAPH, WAIT, IDLE, REST,
)  # fmt: skip

# The phase of an op's own time, by the module of ops it comes from. Phases in _STICKY keep
# what is timed inside them (BN's sums are normalization); the others hand it to the kernels.
_OP_PHASES = {
    "glassnet.ops.conv": CONV,
    "glassnet.ops.depthwise_conv": CONV,
    "glassnet.ops.conv_transpose": CONV,
    "glassnet.ops.fused": CONV,
    "glassnet.ops.linalg": GEMM,
    "glassnet.ops.pooling": POOL,
    "glassnet.ops.normalization": NORM,
    "glassnet.ops.activation": ELEMENTWISE,
    "glassnet.ops.elementwise": ELEMENTWISE,
    "glassnet.ops.dropout": ELEMENTWISE,
    "glassnet.ops.attention": ELEMENTWISE,
    "glassnet.ops.draws": AUGMENT,
    "glassnet.ops.image": AUGMENT,
    "glassnet.ops.resize": AUGMENT,
    "glassnet.ops.upsampling": AUGMENT,
    "glassnet.ops.recurrent": RECURRENT,
    "glassnet.ops.loss": LOSS,
}
_STICKY = {POOL, NORM, ELEMENTWISE, RECURRENT, AUGMENT, LOSS, OPTIMIZER, OTHER}

#: What the timers cannot separate, printed under each profile.
INLINE = (
    "Inline code, not timed apart: `LinearOp`'s and `MatMulOp`'s products are their own "
    "time (counted as GEMM); a chunked convolution's ReLU mask for backward, reshapes and "
    "`DepthwiseConv2DOp`'s taps are inside the convolution op's own time; the shares' "
    "weight-gradient sums (`models.replay._replayed_in_shares`) are in Python and the rest."
)


# ----------------------------------------------------------------------------- the timers
@dataclass
class _OpTime:
    """One op's pass: calls, its own seconds (kernels inside included, nested ops not) and
    those seconds by phase."""

    calls: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class _ThreadState:
    """One thread's timers: its stack of open stages, seconds by phase and by op, and how
    long it spent in its shares of a batch (``split_over_cores``)."""

    def __init__(self, main: bool) -> None:
        self.main = main
        self.stack: list[list[Any]] = []  # [phase, sticky, owner op, start, children's time, op]
        self.reset()

    def reset(self) -> None:
        self.phases: dict[str, float] = defaultdict(float)
        self.ops: dict[tuple[str, str], _OpTime] = {}
        self.share_seconds = 0.0
        self.share_cpu = 0.0
        self.shares = 0
        self.frames = 0


class Profiler:
    """Timing wrappers over the engine's ops and kernels, installed only inside ``installed()``.

    Each thread keeps its own timers (``_ThreadState``); ``states`` lists every thread's.
    ``graph``: the step runs through the autograd graph, not a replayed tape, so
    ``Tensor.backward`` is the whole backward's bookkeeping rather than the loss's.
    """

    def __init__(self, graph: bool = False) -> None:
        self.graph = graph
        self.states: list[_ThreadState] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._main = threading.get_ident()

    # -- per-thread state
    def _state(self) -> _ThreadState:
        state = getattr(self._local, "state", None)
        if state is None:
            state = _ThreadState(threading.get_ident() == self._main)
            self._local.state = state
            with self._lock:
                self.states.append(state)
        return state

    def reset(self) -> None:
        """Forget every thread's numbers (call between steps, never during one)."""
        for state in self.states:
            state.reset()

    # -- one timed stage
    def timed(
        self,
        fn: Callable[..., Any],
        phase: str,
        sticky: bool = False,
        forced: bool = False,
        op: tuple[str, str] | None = None,
    ) -> Callable[..., Any]:
        """``fn`` timed as a stage of ``phase``; ``op``: (op name, pass) for an op's pass.
        Inside a sticky stage a stage takes the enclosing phase unless ``forced``."""
        clock = time.perf_counter
        state_of = self._state

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            state = state_of()
            stack = state.stack
            this_phase, this_sticky, owner = phase, sticky, op
            if stack:
                parent = stack[-1]
                if parent[1] and not forced:
                    this_phase, this_sticky = parent[0], True
                if owner is None:
                    owner = parent[2]
            frame = [this_phase, this_sticky, owner, 0.0, 0.0, op]
            stack.append(frame)
            state.frames += 1
            frame[3] = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = clock() - frame[3]
                stack.pop()
                own = elapsed - frame[4]
                state.phases[this_phase] += own
                if owner is not None:
                    record = state.ops.get(owner)
                    if record is None:
                        record = state.ops[owner] = _OpTime()
                    record.seconds += own
                    record.phases[this_phase] += own
                    if op is not None:
                        record.calls += 1
                if stack:
                    stack[-1][4] += elapsed

        wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        return wrapper

    def _shares_timed(self, split: Callable[..., Any]) -> Callable[..., Any]:
        """``split_over_cores`` whose work notes, per thread, the time spent in shares."""
        state_of = self._state

        def split_over_cores(work: Callable[..., Any], n: int, linked: bool = False) -> Any:
            def timed_work(*args: Any) -> Any:
                state = state_of()
                wall, cpu = time.perf_counter(), time.thread_time()
                try:
                    return work(*args)
                finally:
                    state.share_seconds += time.perf_counter() - wall
                    state.share_cpu += time.thread_time() - cpu
                    state.shares += 1

            return split(timed_work, n, linked=linked)

        return split_over_cores

    # -- installing
    def _replacements(self) -> list[tuple[Any, str, Any]]:
        """(owner, attribute, wrapper) for everything timed: module functions wherever a
        glassnet module bound them, class attributes on their class."""
        from glassnet import parallel, tensor
        from glassnet.autograd import Function
        from glassnet.models import replay
        from glassnet.ops import _conv_kernels as kernels
        from glassnet.ops import activation, conv, normalization
        from glassnet.optimizers.base import Optimizer

        found: list[tuple[Any, str, Any]] = []
        functions = [
            (kernels.columns, UNFOLD),
            (kernels.copy_windows, UNFOLD),
            (kernels._conv_in_chunks, GEMM),
            (kernels._weight_grad_in_chunks, GEMM),
            (kernels.tiled_weight, CONV),
            (kernels.untiled_weight_grad, CONV),
            (conv.pad_images, PAD),
            (conv.im2col, UNFOLD),
            (conv.col2im, FOLD),
            (tensor.add_to_rows, ELEMENTWISE),
            (tensor.sum_rows, ELEMENTWISE),
            (activation.relu_, ELEMENTWISE),
            (activation.fused_relu, ELEMENTWISE),
            (activation.fused_relu_grad, ELEMENTWISE),
            (normalization.batch_norm_inference, NORM),
        ]
        for fn, phase in functions:
            found += _bindings(fn, self.timed(fn, phase))
        found += _bindings(replay._loss, self.timed(replay._loss, LOSS, sticky=True))
        found += _bindings(parallel.split_over_cores, self._shares_timed(parallel.split_over_cores))
        plan_stages = {
            "im2col": UNFOLD,
            "product": GEMM,
            "forward": GEMM,
            "weight_grad": GEMM,
            "input_grad_cols": GEMM,
            "input_grad_as_conv": GEMM,
        }
        for name, phase in plan_stages.items():
            found.append(
                (kernels.ConvPlan, name, self.timed(getattr(kernels.ConvPlan, name), phase))
            )
        backward = tensor.Tensor.backward
        graph_phase = (GRAPH, False) if self.graph else (LOSS, True)
        found.append((tensor.Tensor, "backward", self.timed(backward, *graph_phase)))
        found.append((Optimizer, "_update", self.timed(Optimizer._update, OPTIMIZER, True)))
        found.append(
            (parallel.Share, "gather", self.timed(parallel.Share.gather, WAIT, forced=True))
        )
        found += self._op_replacements(Function)
        return found

    def _op_replacements(self, base: type) -> list[tuple[Any, str, Any]]:
        """Every ``Function`` subclass's forward and backward, each timed under its own class's
        name (an inherited one too), looked up before any is replaced."""
        found = []
        for cls in _subclasses(base):
            phase = _OP_PHASES.get(cls.__module__, OTHER)
            for name in ("forward", "backward"):
                static = inspect.getattr_static(cls, name)
                if not isinstance(static, staticmethod) or static is base.__dict__[name]:
                    continue
                fn = static.__func__
                timed = self.timed(fn, phase, phase in _STICKY, op=(cls.__name__, name))
                found.append((cls, name, staticmethod(timed)))
        return found

    @contextlib.contextmanager
    def installed(self) -> Iterator[Profiler]:
        """Time the engine inside the block; everything is put back after it."""
        replacements = self._replacements()
        saved = []
        try:
            for owner, name, wrapper in replacements:
                saved.append((owner, name, owner.__dict__.get(name, _ABSENT)))
                setattr(owner, name, wrapper)
            yield self
        finally:
            for owner, name, original in reversed(saved):
                if original is _ABSENT:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)


_ABSENT = object()


def _bindings(fn: Callable[..., Any], wrapper: Callable[..., Any]) -> list[tuple[Any, str, Any]]:
    """(module, name, wrapper) for each glassnet module that holds ``fn`` under a name
    (``from x import f`` binds it again in the importer)."""
    found = []
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith("glassnet"):
            continue
        for name, value in list(vars(module).items()):
            if value is fn:
                found.append((module, name, wrapper))
    return found


def _subclasses(cls: type) -> list[type]:
    """Every subclass of ``cls``, however deep, once each."""
    seen: dict[type, None] = {}
    todo = list(cls.__subclasses__())
    while todo:
        sub = todo.pop()
        if sub not in seen:
            seen[sub] = None
            todo += sub.__subclasses__()
    return list(seen)


def timer_cost(calls: int = 20_000) -> float:
    """Microseconds one timed stage adds to a call (a wrapped no-op against a bare one)."""

    def nothing() -> None:
        return None

    profiler = Profiler()
    wrapped = profiler.timed(nothing, OTHER)
    best = []
    for fn in (nothing, wrapped):
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            runs.append(time.perf_counter() - start)
        best.append(min(runs))
    return max(0.0, (best[1] - best[0]) / calls * 1e6)


# ----------------------------------------------------------------------------- profiling
@dataclass
class Profile:
    """One workload's profile. Times are milliseconds per step; ``phases`` and ``ops`` are
    thread-ms per step, ``phases`` adding up to ``total`` (= the profiled steps' wall time ×
    ``threads``); ``ops``: (op, pass, calls per step, thread-ms per step, its phases)."""

    name: str
    title: str
    how: str
    threads: int
    steps: int
    plain_ms: list[float]
    profiled_ms: list[float]
    phases: dict[str, float]
    total: float
    cpu_share: float
    ops: list[tuple[str, str, float, float, dict[str, float]]]
    stages_per_step: float
    stage_us: float

    @property
    def overhead(self) -> float:
        """The profiled step's median over the plain one's, minus one."""
        return statistics.median(self.profiled_ms) / statistics.median(self.plain_ms) - 1


def how_it_runs(model: Any, training: bool) -> tuple[str, bool]:
    """How the model's step now runs, in words, and whether that is through the graph."""
    if model is None:
        return "unknown (the workload's builder keeps no model)", False
    from glassnet.parallel import blas_threads

    if not training:
        entries = list(model.__dict__.get("_inference_replays", {}).values())
        if entries and all(e.tape is not None and e.verified for e in entries):
            return "the replayed inference tape (`predict`)", False
        return "the model's `call` (no replayed tape)", False
    entries = list(model.__dict__.get("_replays", {}).values())
    if not entries or not all(e.tape is not None and e.verified for e in entries):
        return "through the autograd graph (no replayed tape)", True
    shared = all(e.shares and None not in e.shares.values() for e in entries)
    if shared and blas_threads() > 1:
        return "the replayed tape, a share of the batch per core", False
    return "the replayed tape, the whole batch in order", False


def _timed_steps(step: Callable[[], object], count: int) -> tuple[list[float], float]:
    """Run ``step`` ``count`` times: the wall milliseconds of each, and this thread's CPU
    seconds in all."""
    walls, cpu = [], time.thread_time()
    for _ in range(count):
        start = time.perf_counter()
        step()
        walls.append((time.perf_counter() - start) * 1000)
    return walls, time.thread_time() - cpu


def profile_workload(
    workload: Workload,
    steps: int = 20,
    warmup: int = 5,
    block: int = 5,
    min_seconds: float = 1.0,
    stage_us: float | None = None,
) -> Profile:
    """Profile glassnet's side of ``workload``: ``warmup`` steps (the tape is recorded,
    checked and, for shares, recorded again per share), then blocks of ``block`` steps
    without and with the timers in turn, at least ``steps`` of each and at least
    ``min_seconds`` of each."""
    step, _ = workload.glassnet()
    model = getattr(workload.glassnet, "model", None)
    start = time.perf_counter()
    for _ in range(max(warmup, 1)):
        step()
    per_step = (time.perf_counter() - start) / max(warmup, 1)
    how, graph = how_it_runs(model, workload.training)
    steps = max(steps, math.ceil(min_seconds / max(per_step, 1e-6)))
    profiler = Profiler(graph=graph)
    plain: list[float] = []
    profiled: list[float] = []
    main_cpu = 0.0
    while len(profiled) < steps:
        count = min(block, steps - len(profiled))
        plain += _timed_steps(step, count)[0]
        with profiler.installed():
            walls, cpu = _timed_steps(step, count)
        profiled += walls
        main_cpu += cpu
    return _summarise(workload, how, profiler, plain, profiled, main_cpu, stage_us)


def _summarise(
    workload: Workload,
    how: str,
    profiler: Profiler,
    plain: list[float],
    profiled: list[float],
    main_cpu: float,
    stage_us: float | None,
) -> Profile:
    """The profiler's per-thread seconds as thread-ms per step of the profiled steps."""
    steps = len(profiled)
    wall = sum(profiled) / 1000  # seconds
    workers = [s for s in profiler.states if not s.main and s.shares]
    threads = 1 + len(workers)
    phases: dict[str, float] = defaultdict(float)
    ops: dict[tuple[str, str], _OpTime] = {}
    cpu = main_cpu
    for state in profiler.states:
        if not state.main and not state.shares:
            continue
        covered = wall if state.main else state.share_seconds
        if not state.main:
            phases[IDLE] += wall - state.share_seconds
            cpu += state.share_cpu
        timed = 0.0
        for phase, seconds in state.phases.items():
            phases[phase] += seconds
            timed += seconds
        phases[REST] += max(covered - timed, 0.0)
        for key, record in state.ops.items():
            into = ops.setdefault(key, _OpTime())
            into.calls += record.calls
            into.seconds += record.seconds
            for phase, seconds in record.phases.items():
                into.phases[phase] += seconds
    scale = 1000 / steps  # seconds in all -> ms per step
    total = wall * threads * scale
    rows = sorted(
        (
            (name, pass_, r.calls / steps, r.seconds * scale,
             {p: s * scale for p, s in r.phases.items()})
            for (name, pass_), r in ops.items()
        ),
        key=lambda row: -row[3],
    )  # fmt: skip
    frames = sum(s.frames for s in profiler.states)
    return Profile(
        workload.name,
        workload.title,
        how,
        threads,
        steps,
        plain,
        profiled,
        {p: phases.get(p, 0.0) * scale for p in PHASES},
        total,
        cpu / (wall * threads) if wall else 0.0,
        rows,
        frames / steps,
        timer_cost() if stage_us is None else stage_us,
    )


# ----------------------------------------------------------------------------- the report
def _share(ms: float, total: float) -> str:
    return f"{100 * ms / total:.1f} %" if total else "–"


def format_profile(profile: Profile, top: int = 15) -> str:
    """A Markdown section: how the step ran, its wall time and the profiler's overhead, the
    table by phase and the ``top`` ops."""
    p = profile
    plain, timed = statistics.median(p.plain_ms), statistics.median(p.profiled_ms)
    if p.threads > 1:
        unit = (
            f"thread-ms per step, summed over the {p.threads} threads that ran the step (a share "
            f"of the batch on each core): the step's wall time × {p.threads} threads = 100 %"
        )
    else:
        unit = (
            "ms per step on the one thread that ran it (the BLAS's own threads are inside its "
            "products): the step's wall time = 100 %"
        )
    lines = [
        f"### {p.name}: {p.title}",
        "",
        f"- ran: {p.how}; {p.steps} profiled steps, as many without the timers, in "
        "alternating blocks, after warm-up",
        f"- step wall time (median): {plain:.2f} ms without the profiler, {timed:.2f} ms "
        f"with it (overhead {100 * p.overhead:+.1f} %: {p.stages_per_step:.0f} timed stages "
        f"per step at ≈ {p.stage_us:.2f} µs each timed alone)",
        f"- units: {unit}; means over the profiled steps; each thread's wall time counts in "
        "the innermost timed stage it was in, waits for the GIL or a core included",
        f"- the threads were on a CPU for {100 * p.cpu_share:.0f} % of their thread-ms "
        "(`time.thread_time`)",
        "",
        "| phase | thread-ms per step | share |",
        "|---|---|---|",
    ]
    for phase in PHASES:
        ms = p.phases[phase]
        if ms > 0 or phase == REST:
            lines.append(f"| {phase} | {ms:.2f} | {_share(ms, p.total)} |")
    lines += [f"| total | {p.total:.2f} | 100.0 % |", ""]
    lines += [
        f"Top {min(top, len(p.ops))} of {len(p.ops)} op passes (an op's time includes the "
        'kernels it calls, listed under "of which", and not the ops it calls; calls are '
        "counted on every thread):",
        "",
        "| op | pass | calls per step | thread-ms per step | share | of which |",
        "|---|---|---|---|---|---|",
    ]
    for name, pass_, calls, ms, phases in p.ops[:top]:
        inside = ", ".join(
            f"{_short(phase)} {sec:.2f}"
            for phase, sec in sorted(phases.items(), key=lambda kv: -kv[1])
            if sec >= 0.005
        )
        lines.append(
            f"| {name} | {pass_} | {calls:g} | {ms:.2f} | {_share(ms, p.total)} | {inside} |"
        )
    rest = p.ops[top:]
    if rest:
        ms = sum(row[3] for row in rest)
        lines.append(f"| {len(rest)} more | | | {ms:.2f} | {_share(ms, p.total)} | |")
    lines += ["", INLINE]
    return "\n".join(lines)


def _short(phase: str) -> str:
    """A phase's name without its parenthesis, for the ops' "of which" column."""
    return phase.split(" (")[0]


def report(profiles: list[Profile], threads: int, command: str, top: int = 15) -> str:
    """Every profile, after the machine and the command."""
    parts = [
        f"Command: `{command}`",
        "",
        describe_machine(threads),
        "",
        *(format_profile(p, top) + "\n" for p in profiles),
    ]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="workload names, e.g. W3 P1 P2")
    parser.add_argument("--steps", type=int, default=20, help="profiled steps (default 20)")
    parser.add_argument("--warmup", type=int, default=5, help="steps before timing (default 5)")
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        help="at least this long profiled, and as long without the timers (default 1)",
    )
    parser.add_argument("--top", type=int, default=15, help="ops listed (default 15)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    parser.add_argument(
        "--write",
        nargs="?",
        const="benchmarks/NOTES.md",
        metavar="FILE",
        help="append the report to FILE (default benchmarks/NOTES.md)",
    )
    args = parser.parse_args(argv)
    everything = workloads()
    known = [w.name for w in everything]
    unknown = [name for name in args.only or [] if name not in known]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}: choose from {', '.join(known)}")
    if args.steps < 1 or args.warmup < 3:
        parser.error(
            "--steps must be ≥ 1 and --warmup ≥ 3 (the first three steps record the tape, "
            f"check it and record the shares'), received {args.steps} and {args.warmup}"
        )
    limit_threads(args.threads, torch=False)
    chosen = [w for w in everything if not args.only or w.name in args.only]
    stage_us = timer_cost()
    profiles = []
    for w in chosen:
        print(f"{w.name}: {w.title} ...", flush=True)
        profiles.append(
            profile_workload(
                w, args.steps, args.warmup, min_seconds=args.min_seconds, stage_us=stage_us
            )
        )
    given = sys.argv[1:] if argv is None else argv
    text = report(profiles, args.threads, " ".join(["python -m benchmarks.profile", *given]))
    print(text)
    if args.write:
        today = time.strftime("%Y-%m-%d")
        with open(args.write, "a") as f:
            f.write(f"\n## Profile of glassnet's steps ({today})\n\n{text}")
        print(f"appended to {args.write}")
    return text


if __name__ == "__main__":
    main()
