"""Replay: a training step recorded once as it runs through the graph, then run again on
arrays for every later batch of the same shape.

The first batch of a shape goes through the model's ``call``, the autograd graph and
``loss.backward()``: the code a learner reads. While it runs, ``autograd.record_ops`` notes
every op applied: its ``Function``, where each input came from (the batch, an earlier op's
output, a tensor such as a weight, or a constant) and its attributes. Later batches of that
shape replay the record, a ``Tape``: each op's own ``forward`` in order, then, from the
loss's gradient for the outputs, each op's own ``backward`` in the order the graph took,
adding the weights' gradients by the rule ``Tensor.backward`` uses (``deposit_grad``). The
same ops in the same order give the same numbers, without Tensors, graph nodes or a
topological sort on every batch.

What keeps it honest:

* The second batch of a shape runs both ways, the tape first: the outputs, the loss, every
  gradient and every weight's value afterwards (batch normalization's moving statistics
  included) must agree bit for bit, random generators rewound in between. A model whose
  Python looks at its data, or draws random numbers outside an op, differs there and keeps
  the graph for that shape.
* Any attribute set on any layer or model (``layers.layer.changes``) makes a new record, and
  so does a new shape or dtype.
* The loss runs through its own small graph on every batch, from the outputs, so its checks
  of the targets run each time. So do the weights' penalties (``Layer.losses``, from
  ``kernel_regularizer=`` and the like), from the weights, once for the whole batch (never
  once per share); a layer with an ``activity_regularizer``, whose penalty comes from its
  outputs, keeps the graph on every batch.
* ``compile(jit_compile=False)``, an open ``observe_calls``/``watch_calls`` block, or a layer
  whose Python must run on every call (``Layer.replayable = False``) keeps the graph on every
  batch.

A model with several inputs and outputs replays the same way: the tape reads each input by
its position in the list, and its backward starts from each output's gradient; its loss
(one per output, weighted) is computed from the outputs like any other.

Like a traced function in Keras or PyTorch, a replayed step runs the layers' ops, not their
Python: a ``print`` or a check of the data inside ``call`` runs on the first two batches of a
shape only, unless the layer sets ``replayable = False``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet.autograd import Applied, Context, Function, record_ops
from glassnet.backend import get_array_module, get_rng
from glassnet.layers.layer import changes, regularization_loss
from glassnet.layers.observers import observing_calls
from glassnet.memory import release_freed_memory
from glassnet.ops.activation import ReLUOp
from glassnet.ops.conv import ConvOp
from glassnet.ops.fused import ConvBatchNormOp, ConvMaxPoolOp
from glassnet.ops.normalization import BatchNormOp
from glassnet.ops.pooling import MaxPoolOp
from glassnet.parallel import Share, blas_threads, share_rows, split_over_cores
from glassnet.tensor import Tensor, _topological_order, deposit_grad, unbroadcast

__all__ = ["Tape", "predict", "train_step"]

# Where an op's input comes from: the batch (one of its inputs, by position), an earlier op's
# output (by index), a tensor held
# by the model (a weight, a moving statistic: read at every replay, so updates are seen), a
# constant array, or nothing (an absent optional input).
BATCH, NODE, TENSOR, CONSTANT, ABSENT = range(5)


class NotReplayable(Exception):
    """The recorded step cannot be replayed (the reason is for tests and curious readers)."""


@dataclass
class _Op:
    fn: type[Function]
    sources: tuple[tuple[int, Any], ...]
    attrs: dict[str, Any]
    grad_enabled: bool
    no_grads: tuple[bool, ...] = field(init=False)  # needs_input_grad for inference

    def __post_init__(self) -> None:
        self.no_grads = (False,) * len(self.sources)


@dataclass
class Tape:
    """One training forward pass as recorded: ops in order, where their inputs come from, the
    ops whose outputs are the model's (``several``: a list of them, else one), and the order
    the graph's backward visited them. ``links``: for each output that a softmax or sigmoid
    made, ``(kind, op, axis)`` with the op that made its logits, else None (a cross-entropy
    reads those logits, ``ops.loss._logits_of``; the tape hands them to the loss too)."""

    ops: list[_Op]
    outputs: list[int]
    several: bool
    backward_order: list[int]
    # After each op's forward, the earlier outputs no longer needed (memory back early).
    frees: list[list[int]] = field(default_factory=list)
    links: list[tuple[str, int, int] | None] = field(default_factory=list)

    @classmethod
    def from_record(
        cls, record: list[Applied], batch: Any, outputs: Any, loss: Tensor | None = None
    ) -> Tape:
        """The tape of a recorded forward pass on ``batch`` (a Tensor, or a list: several
        inputs) giving ``outputs`` (a Tensor, or a list); for training, ``loss`` still holds
        its graph (the backward order is read off it)."""
        several = isinstance(outputs, (list, tuple, dict))
        produced = {id(applied.output): i for i, applied in enumerate(record)}
        if not all(isinstance(o, Tensor) and id(o) in produced for o in _listed(outputs)):
            raise NotReplayable("the outputs are not ops' results")
        inputs = {id(t): i for i, t in reversed(list(enumerate(_listed(batch))))}
        ops = [_Op(a.fn, _sources(a, inputs, produced), a.attrs, a.grad_enabled) for a in record]
        order = []
        if loss is not None:
            graph = reversed(_topological_order(loss))
            order = [produced[id(t)] for t in graph if id(t) in produced]
        ends = [produced[id(o)] for o in _listed(outputs)]
        links = [_link(o, produced) for o in _listed(outputs)]
        if loss is None:  # inference: fuse what can be fused (training keeps every op)
            ops, ends = _fused(ops, ends)
            links = [None for _ in ends]
        kept = set(ends) | {link[1] for link in links if link is not None}
        last_use = {}
        for i, op in enumerate(ops):
            for kind, where in op.sources:
                if kind == NODE:
                    last_use[where] = i
        frees: list[list[int]] = [[] for _ in ops]
        for node, i in last_use.items():
            if node not in kept:
                frees[i].append(node)
        return cls(ops, ends, several, order, frees, links)

    def _out(self, values: list[Any]) -> Any:
        """The model's output arrays among ``values``: one, or a list for several."""
        return [values[i] for i in self.outputs] if self.several else values[self.outputs[0]]

    def forward(
        self, x: Any, share: Share | None = None
    ) -> tuple[Any, list[Context | None], list[tuple], list[bool], list[Any]]:
        """Run every op's forward on the batch ``x`` (an array, or a list: several inputs):
        the output array (a list for several), what ``backward`` needs (each op's Context,
        the shapes of its inputs, whether its output wants a gradient) and each output's
        logits (None where it has no ``links`` entry). For a ``share`` of a batch, the ops
        that look across the batch are given it (``Function.across_batch``)."""
        xs = x if isinstance(x, list) else [x]
        values: list[Any] = [None] * len(self.ops)
        shapes: list[tuple] = []
        wants: list[bool] = []
        ctxs: list[Context | None] = []
        for i, op in enumerate(self.ops):
            arrays, needs, in_shapes = [], [], []
            for kind, where in op.sources:
                if kind == NODE:
                    a, need = values[where], wants[where]
                elif kind == TENSOR:
                    a, need = where.data, where.requires_grad
                elif kind == BATCH:
                    a, need = xs[where], False
                elif kind == CONSTANT:
                    a, need = where, False
                else:
                    a, need = None, False
                arrays.append(a)
                needs.append(need and op.grad_enabled)
                in_shapes.append(None if a is None else a.shape)
            ctx = Context(op.fn, (), tuple(needs))
            attrs = op.attrs if share is None or not op.fn.across_batch else {
                **op.attrs, "share": share}  # fmt: skip
            out = op.fn.forward(ctx, *arrays, **attrs)
            xp = get_array_module(out)
            values[i] = out if isinstance(out, xp.ndarray) else xp.asarray(out)
            wants.append(any(needs))
            ctxs.append(ctx if any(needs) else None)
            shapes.append(tuple(in_shapes))
            for node in self.frees[i]:
                values[node] = None
        behind = [None if link is None else values[link[1]] for link in self.links]
        return self._out(values), ctxs, shapes, wants, behind

    def infer(self, x: Any) -> Any:
        """Every op's forward on the batch ``x`` (an array, or a list: several inputs), keeping
        nothing for a backward: the output (a list for several)."""
        xs = x if isinstance(x, list) else [x]
        values: list[Any] = [None] * len(self.ops)
        for i, op in enumerate(self.ops):
            arrays = [
                values[where]
                if kind == NODE
                else where.data
                if kind == TENSOR
                else xs[where]
                if kind == BATCH
                else where
                for kind, where in op.sources
            ]
            out = op.fn.forward(Context(op.fn, (), op.no_grads), *arrays, **op.attrs)
            if type(out) is not np.ndarray:  # a NumPy scalar, or another array module's array
                xp = get_array_module(out)
                out = out if isinstance(out, xp.ndarray) else xp.asarray(out)
            values[i] = out
            for node in self.frees[i]:
                values[node] = None
        return self._out(values)

    def backward(
        self,
        grad: Any,
        ctxs: list[Context | None],
        shapes: list[tuple],
        into: dict[int, tuple[Tensor, Any]] | None = None,
        behind: list[Any] | None = None,
    ) -> None:
        """Each op's backward from ``grad``, the gradient for the outputs (a list for several;
        None for an output the loss does not read), and ``behind``, those for the outputs'
        logits (``links``), in the graph's order, summing gradients as ``Tensor.backward``
        does; the tensors' (weights') gradients end in their ``.grad``, or, given ``into``,
        are added there by ``id`` (a share of a batch on its own thread must not race the
        others on ``.grad``)."""
        grads: dict[int, Any] = {}
        starts = zip(self.outputs, grad if self.several else [grad], strict=True)
        links = zip(self.links, behind or [None] * len(self.links), strict=True)
        starts = [*starts, *((link[1], g) for link, g in links if link is not None)]
        for i, g in starts:
            if g is not None:
                grads[i] = g if i not in grads else grads[i] + g
        leaves: dict[int, tuple[Tensor, Any]] = {}
        for i in self.backward_order:
            g = grads.pop(i, None)
            ctx = ctxs[i]
            if g is None or ctx is None:
                continue
            op = self.ops[i]
            input_grads = op.fn.backward(ctx, g)
            ctxs[i] = None  # its saved arrays go as soon as they are used
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for (kind, where), shape, need, pg in zip(
                op.sources, shapes[i], ctx.needs_input_grad, input_grads, strict=True
            ):
                if pg is None or not need:
                    continue
                if pg.shape != shape:
                    pg = unbroadcast(pg, shape)
                if kind == NODE:
                    grads[where] = pg if where not in grads else grads[where] + pg
                elif kind == TENSOR:
                    key = id(where)
                    leaves[key] = (where, pg if key not in leaves else leaves[key][1] + pg)
            input_grads = pg = g = None  # the dicts hold them now (see deposit_grad)
        if into is not None:
            for key, (leaf, g) in leaves.items():
                into[key] = (leaf, g if key not in into else into[key][1] + g)
            return
        for key in list(leaves):
            leaf, g = leaves.pop(key)
            deposit_grad(leaf, g)


def _fused(ops: list[_Op], ends: list[int]) -> tuple[list[_Op], list[int]]:
    """An inference tape's ops with fusable runs replaced by their fused op
    (``ops.fused``), each run's inner outputs read by nothing else: a convolution (ReLU or
    none) and the max pooling of its output (``ConvMaxPoolOp``); a convolution, the batch
    normalization of its output and, if one follows, its ReLU (``ConvBatchNormOp``).
    Returns the new ops and the indices of the output ops."""
    readers: dict[int, int] = {}
    for op in ops:
        for kind, where in op.sources:
            if kind == NODE:
                readers[where] = readers.get(where, 0) + 1

    def only_reader(i: int, j: int, fn: type[Function]) -> bool:
        """Whether op ``j`` exists, is a ``fn`` and is all that reads op ``i``'s output
        (through its first input)."""
        return (
            j < len(ops)
            and ops[j].fn is fn
            and ops[j].sources[0] == (NODE, i)
            and readers.get(i) == 1
            and i not in ends
        )

    new: list[_Op] = []
    index: dict[int, int] = {}  # old op -> new op
    skip = set()
    for i, op in enumerate(ops):
        if i in skip:
            continue
        run = [i]
        if op.fn is ConvOp and only_reader(i, i + 1, MaxPoolOp):
            attrs = {"conv": op.attrs, "pool": ops[i + 1].attrs}
            op, run = _Op(ConvMaxPoolOp, op.sources, attrs, op.grad_enabled), [i, i + 1]
        elif (
            op.fn is ConvOp
            and only_reader(i, i + 1, BatchNormOp)
            and not ops[i + 1].attrs["training"]
        ):
            relu = only_reader(i + 1, i + 2, ReLUOp)
            bn = ops[i + 1]
            attrs = {"conv": op.attrs, "epsilon": bn.attrs["epsilon"], "relu": relu}
            sources = op.sources + bn.sources[1:]
            op, run = _Op(ConvBatchNormOp, sources, attrs, op.grad_enabled), [i, i + 1]
            run += [i + 2] if relu else []
        for j in run:
            index[j] = len(new)
        skip.update(run)
        sources = tuple((k, index[w]) if k == NODE else (k, w) for k, w in op.sources)
        new.append(_Op(op.fn, sources, op.attrs, op.grad_enabled))
    return new, [index[i] for i in ends]


def _link(output: Tensor, produced: dict[int, int]) -> tuple[str, int, int] | None:
    """``(kind, op, axis)`` where ``output`` came from a softmax or sigmoid whose input (the
    logits) an op of the record made; else None."""
    link = output._logits
    if link is None or id(link[1]) not in produced:
        return None
    return link[0], produced[id(link[1])], link[2]


def _ends(tape: Tape, out: Any, behind: list[Any]) -> list[Tensor]:
    """The tape's outputs as Tensors for the loss to differentiate, each linked to the logits
    behind it where a softmax or sigmoid made it, as on the graph: the cross-entropies then
    read the logits, exactly as they do there (``ops.loss._logits_of``)."""
    ends = []
    for o, link, logits in zip(_listed(out), tape.links, behind, strict=True):
        end = Tensor(o, requires_grad=True)
        if link is not None:
            end._logits = (link[0], Tensor(logits, requires_grad=True), link[2])
        ends.append(end)
    return ends


def _taken_grads(ends: list[Tensor]) -> tuple[list[Any], list[Any]]:
    """The gradients the loss's backward left on the outputs and on their logits, taken off
    the Tensors (for ``Tape.backward``)."""
    grads, behind = [], []
    for end in ends:
        logits = end._logits[1] if end._logits is not None else None
        grads.append(end.grad)
        behind.append(None if logits is None else logits.grad)
        end.grad = None
        if logits is not None:
            logits.grad = None
    return grads, behind


def _sources(applied: Applied, inputs: dict[int, int], produced: dict[int, int]) -> tuple:
    """Where each input of ``applied`` comes from; ``inputs``: the batch's tensors' ids and
    their positions among the model's inputs."""
    sources = []
    for given, array in zip(applied.inputs, applied.arrays, strict=True):
        if given is None:
            sources.append((ABSENT, None))
        elif not isinstance(given, Tensor):
            sources.append((CONSTANT, array))
        elif id(given) in produced:
            sources.append((NODE, produced[id(given)]))
        elif id(given) in inputs:
            sources.append((BATCH, inputs[id(given)]))
        elif given._ctx is not None:
            raise NotReplayable("an op reads a tensor computed before the step began")
        else:
            sources.append((TENSOR, given))
    return tuple(sources)


@dataclass
class _Entry:
    """A shape's tape (None: it disagreed with the graph, which that shape keeps), whether it
    has been checked against the graph yet, and the tapes of its shares by size (``_shares``)."""

    tape: Tape | None
    verified: bool = False
    shares: dict[int, Tape | None] | None = None


def _key(x: Any) -> tuple[Any, ...]:
    """What a tape is for: the batch's (array or Tensor; a list of them for several inputs)
    whole shape (ops' attributes may hold its size, as a reshape's does) and dtype, and the
    layers as they were (``layers.layer.changes``)."""
    if isinstance(x, list):
        return (tuple(a.shape for a in x), tuple(a.dtype for a in x), changes())
    return (x.shape, x.dtype, changes())


def train_step(
    model: Any, x: Tensor, y: Any, w: Any = None
) -> tuple[float, Tensor, Callable[[], None]]:
    """One training step's forward pass and loss, and the backward pass to run once the loss
    is known to be finite (it fills the weights' ``.grad``). ``w``: the batch's sample
    weights (or None), data like the targets, given to ``model.compute_loss`` with them.

    The first batch of a shape goes through the graph and is recorded; the second runs the
    tape and the graph and keeps the tape only if they agree exactly; later ones replay it.
    """
    usable = (
        model.jit_compile
        and not observing_calls()
        and all(isinstance(t, Tensor) and get_array_module(t.data) is np for t in _listed(x))
    )
    if not usable:
        return _through_graph(model, x, y, w)
    replays = model.__dict__.setdefault("_replays", {})
    entry = replays.get(_key(x))
    if entry is None:
        return _recorded(model, replays, x, y, w)
    if entry.tape is None:
        return _through_graph(model, x, y, w)
    if not entry.verified:
        return _verified(model, entry, x, y, w)
    shares = _shares(model, entry, x, y, w) if isinstance(x, Tensor) else None
    if shares is not None:
        return _replayed_in_shares(model, {**shares, len(x): entry.tape}, x, y, w)
    return _replayed(model, entry.tape, x, y, w)


def _through_graph(model: Any, x: Any, y: Any, w: Any) -> tuple[float, Any, Callable[[], None]]:
    outputs = model(x, training=True)
    loss, penalty = _loss(model, x, y, outputs, w)
    return _value(loss, penalty), outputs, _then(loss.backward, penalty)


def _loss(model: Any, x: Any, y: Any, outputs: Any, w: Any) -> tuple[Tensor, Tensor | None]:
    """The step's loss from the outputs, run as a small graph of its own every batch: the
    compiled losses (sample weights, loss weights) with the outputs' penalties, and apart
    the weights' penalty (``regularization_loss``). That one runs its backward after the rest
    of the step's, on the graph as on the tape, so each weight's gradient is summed in the
    same order both ways (``_verified`` compares them bit for bit). A model's own
    ``compute_loss`` gives the whole loss at once."""
    loss = None if model._own("compute_loss") else model._compiled_loss(y, outputs, w)
    if loss is None:
        return model.compute_loss(x, y, outputs, w), None
    activity = regularization_loss(model, weights=False)
    loss = loss if activity is None else loss + activity
    return loss, regularization_loss(model, activity=False)


def _value(loss: Tensor, penalty: Tensor | None) -> float:
    """The loss fit reports: the step's with every penalty."""
    return float((loss if penalty is None else loss + penalty).item())


def _then(backward: Callable[[], None], penalty: Tensor | None) -> Callable[[], None]:
    """``backward``, then the weights' penalty's backward (see ``_loss``)."""
    if penalty is None:
        return backward

    def both() -> None:
        backward()
        penalty.backward()

    return both


def _recorded(
    model: Any, replays: dict, x: Tensor, y: Any, w: Any
) -> tuple[float, Tensor, Callable[[], None]]:
    with record_ops() as record:
        outputs = model(x, training=True)
    loss, penalty = _loss(model, x, y, outputs, w)  # not on the tape: off the record
    tape = _tape(model, record, x, outputs, loss)
    if len(replays) >= 8:  # a handful of shapes at a time (the last batch is often smaller)
        replays.clear()
    replays[_key(x)] = _Entry(tape)  # the key after the call: building changes the layers
    return _value(loss, penalty), outputs, _then(loss.backward, penalty)


def _tape(
    model: Any, record: list[Applied], x: Tensor, outputs: Any, loss: Tensor | None = None
) -> Tape | None:
    """The tape of a recorded pass, or None where the model keeps the graph: a layer that
    asked to (``Layer.replayable``), training with an ``activity_regularizer``, or a pass the
    tape cannot hold (``NotReplayable``)."""
    for _, layer in model.named_layers():
        if not layer.replayable or (
            loss is not None
            and (layer.activity_regularizer is not None or "_added_losses" in layer.__dict__)
        ):
            return None  # (an activity penalty or add_loss term is made from values the tape
            # does not hand back)
    try:
        return Tape.from_record(record, x, outputs, loss)
    except NotReplayable:
        return None


def _replayed(
    model: Any, tape: Tape, x: Any, y: Any, w: Any
) -> tuple[float, Any, Callable[[], None]]:
    out, ctxs, shapes, wants, behind = tape.forward(_arrays(x))
    if not any(wants[i] for i in tape.outputs):  # nothing to train: the graph says so
        return _through_graph(model, x, y, w)
    ends = _ends(tape, out, behind)
    loss, penalty = _loss(model, x, y, ends if tape.several else ends[0], w)

    def backward() -> None:
        loss.backward()
        grads, logit_grads = _taken_grads(ends)
        tape.backward(grads if tape.several else grads[0], ctxs, shapes, behind=logit_grads)

    outputs = [Tensor(o) for o in out] if tape.several else Tensor(out)
    return _value(loss, penalty), outputs, _then(backward, penalty)


# Shares pay only when each has at least this much activation to compute: below it, handing
# work to a thread and waiting costs more than the second core saves (benchmarks/NOTES.md).
_SHARE_BYTES = 2 << 20


def _shares(model: Any, entry: _Entry, x: Tensor, y: Any, w: Any) -> dict[int, Tape | None] | None:
    """The tapes for replaying the batch a share per core, by share size; None where the
    whole batch replays in order: one BLAS thread, shares too small to pay, nothing to train,
    a loss of the user's or one that is not a mean over the samples (``Loss.averages_samples``:
    glassnet's others are, so shares combine exactly),
    or a layer (or a subclassed model's own ``call``) that does not say it may
    (``Layer.trains_in_shares``)."""
    if entry.shares is None:
        entry.shares = {}
        if _shares_pay(model, entry.tape, x, y):
            workers = min(blas_threads(), len(x))
            for rows in share_rows(len(x), workers):
                size = rows.stop - rows.start
                if size not in entry.shares:
                    part = None if w is None else w[rows]
                    entry.shares[size] = _share_tape(model, entry.tape, x.data[rows], y[rows], part)
            # What this thread kept for whole-batch steps would now sit beside each share's.
            release_freed_memory()
    mismatched = len(y) != len(x) or (w is not None and len(w) != len(x))
    if not entry.shares or None in entry.shares.values() or mismatched:
        return None  # mismatched targets: the loss says so, about the whole batch
    workers = min(blas_threads(), len(x))  # the BLAS may have been set since
    sizes = {rows.stop - rows.start for rows in share_rows(len(x), workers)}
    return entry.shares if sizes <= entry.shares.keys() else None


def _shares_pay(model: Any, tape: Tape, x: Tensor, y: Any) -> bool:
    n = len(x)
    workers = min(blas_threads(), n)
    if workers < 2 or not isinstance(y, np.ndarray) or len(y) != n:
        return False
    largest = model.largest_activation(tuple(x.shape[1:]))
    if not largest or (n // workers) * largest * x.dtype.itemsize < _SHARE_BYTES:
        return False
    # glassnet's own losses, summed by glassnet's own compute_loss (the weights' penalty is
    # added once for the whole batch, _replayed_in_shares; outputs' penalties keep the graph).
    if not type(model.loss).__module__.startswith("glassnet.losses"):
        return False
    if not type(model).compute_loss.__module__.startswith("glassnet."):
        return False
    if not any(t.requires_grad for t in _tensors(model, tape)):
        return False
    return all(layer.trains_in_shares for _, layer in model.named_layers())


def _share_tape(model: Any, tape: Tape, x: Any, y: Any, w: Any) -> Tape | None:
    """The tape of a share's size, recorded through the graph on ``x``, the share's rows; the
    weights and random generators are put back afterwards (only the ops are kept). None if
    the share does not run (the whole batch, which did, then replays in order)."""
    batch = Tensor(x)
    try:
        with _put_back(model, tape), record_ops() as record:
            outputs = model(batch, training=True)
        if not isinstance(outputs, Tensor) or not model.loss.averages_samples(outputs.ndim):
            return None  # the shares' losses would not add up to the batch's
        return _tape(model, record, batch, outputs, _loss(model, batch, y, outputs, w)[0])
    except Exception:
        return None


@contextlib.contextmanager
def _put_back(model: Any, tape: Tape) -> Iterator[list[Tensor]]:
    """Run the block (given the step's tensors, ``_tensors``), then put the tensors' values
    and the random generators' states back as they were before it."""
    tensors, rngs = _tensors(model, tape), _generators(model, tape)
    before = [t.data.copy() for t in tensors]
    states = [g.bit_generator.state for g in rngs]
    try:
        yield tensors
    finally:
        for t, data in zip(tensors, before, strict=True):
            t.data[...] = data
        for g, state in zip(rngs, states, strict=True):
            g.bit_generator.state = state


def _replayed_in_shares(
    model: Any, tapes: dict[int, Tape | None], x: Tensor, y: Any, w: Any
) -> tuple[float, Tensor, Callable[[], None]]:
    """The step with the batch cut into one share per core, each replaying its tape side by
    side (``parallel.split_over_cores``), the ops that look across the batch handed their
    ``Share``. Each share's loss is the mean over its samples; its backward starts from its
    part of the batch (count / n), so every gradient comes out at the whole batch's scale,
    and the batch's gradients are the shares' sums: the step of the whole batch, up to the
    rounding of those sums. Sample weights come with their rows: each share's loss is
    sum(w·loss) over its rows / count, so the same count / n gives the batch's
    sum(w·loss) / n. ``tapes`` has the whole batch's too: the shares run as one, in
    order, where another thread holds the cores meanwhile (``split_over_cores``)."""
    n = len(x)

    def share_step(rows: slice, share: Share | None) -> tuple[int, float, Any, dict]:
        count = rows.stop - rows.start
        tape = tapes[count]
        out, ctxs, shapes, _, behind = tape.forward(x.data[rows], share)
        (outputs,) = _ends(tape, out, behind)
        loss, _ = _loss(model, None, y[rows], outputs, None if w is None else w[rows])
        loss.backward(np.full(loss.shape, count / n, dtype=loss.dtype))
        grads: dict[int, tuple[Tensor, Any]] = {}
        (grad,), logit_grads = _taken_grads([outputs])
        tape.backward(grad, ctxs, shapes, into=grads, behind=logit_grads)
        return count, float(loss.item()), out, grads

    shares = split_over_cores(share_step, n, linked=True)
    value = sum(count * loss for count, loss, _, _ in shares) / n
    penalty = regularization_loss(model)  # the whole batch's, once: not one per share
    if penalty is not None:
        value += float(penalty.item())  # (no outputs' penalties: they keep the graph, _tape)
    outputs = Tensor(np.concatenate([out for _, _, out, _ in shares]))
    grads: dict[int, tuple[Tensor, Any]] = {}
    for *_, part in shares:
        for key, (leaf, g) in part.items():
            grads[key] = (leaf, g if key not in grads else grads[key][1] + g)
    shares = part = None

    def backward() -> None:
        for key in list(grads):
            leaf, g = grads.pop(key)
            deposit_grad(leaf, g)

    return value, outputs, _then(backward, penalty)


def _verified(
    model: Any, entry: _Entry, x: Tensor, y: Any, w: Any
) -> tuple[float, Tensor, Callable[[], None]]:
    """The step through the graph, after the tape ran on the same batch from the same state
    (weights, gradients and random generators put back): the tape is kept, and replayed from
    the next batch on, only if both agree exactly."""
    tape = entry.tape
    with _put_back(model, tape) as tensors:
        grads = [t.grad for t in tensors]
        for t in tensors:
            t.grad = None
        try:
            value, outputs, backward = _replayed(model, tape, x, y, w)
            backward()
            replayed = (value, _arrays(_listed(outputs)), [t.grad for t in tensors],
                        [t.data.copy() for t in tensors])  # fmt: skip
        except Exception:  # the graph below raises it again, in words, or it differs there
            replayed = None
        for t, grad in zip(tensors, grads, strict=True):
            t.grad = grad
    value, outputs, graph_backward = _through_graph(model, x, y, w)

    def backward_then_compare() -> None:
        held = [t.grad for t in tensors]
        for t in tensors:
            t.grad = None
        graph_backward()
        ends = _arrays(_listed(outputs))
        graph = (value, ends, [t.grad for t in tensors], [t.data for t in tensors])
        same = replayed is not None and _same(replayed, graph)
        for t, grad in zip(tensors, held, strict=True):
            if grad is not None:
                t.grad = grad if t.grad is None else grad + t.grad
        entry.verified = same
        if not same:
            entry.tape = None

    return value, outputs, backward_then_compare


def _same(a: tuple, b: tuple) -> bool:
    value_a, out_a, grads_a, data_a = a
    value_b, out_b, grads_b, data_b = b
    if not (value_a == value_b or (value_a != value_a and value_b != value_b)):
        return False
    if len(out_a) != len(out_b) or not all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(out_a, out_b, strict=True)
    ):
        return False
    for ga, gb in zip(grads_a, grads_b, strict=True):
        if (ga is None) != (gb is None) or (ga is not None and not np.array_equal(ga, gb, True)):
            return False
    return all(
        np.array_equal(da, db, equal_nan=True) for da, db in zip(data_a, data_b, strict=True)
    )


def _tensors(model: Any, tape: Tape) -> list[Tensor]:
    """Every tensor the step reads and may change: the model's weights (moving statistics
    included) and any other tensor an op was given."""
    found = {id(w): w for w in model.weights}
    for op in tape.ops:
        for kind, where in op.sources:
            if kind == TENSOR:
                found[id(where)] = where
    return list(found.values())


def _generators(model: Any, tape: Tape) -> list[np.random.Generator]:
    """Every random generator the step may draw from: the engine's, the layers' own, and any
    an op was given."""
    found = {id(get_rng()): get_rng()}
    for _, layer in model.named_layers():
        for value in vars(layer).values():
            if isinstance(value, np.random.Generator):
                found[id(value)] = value
    for op in tape.ops:
        for value in op.attrs.values():
            if isinstance(value, np.random.Generator):
                found[id(value)] = value
    return list(found.values())


def predict(model: Any, x: Any) -> Any:
    """The model's inference outputs for the array batch ``x`` (a list of arrays for several
    inputs; a list of outputs for several), under ``no_grad``.

    As for training: the first batch of a shape goes through ``call`` and is recorded, the
    second runs the tape and ``call`` and keeps the tape only if both give the same outputs
    exactly, later ones replay it (``Tape.infer``). Models whose outputs are not Tensors keep
    their ``call``.
    """
    replays = model.__dict__.setdefault("_inference_replays", {})
    entry = replays.get(_key(x))
    if entry is not None and entry.verified:
        return entry.tape.infer(x)
    batch = [Tensor(a) for a in x] if isinstance(x, list) else Tensor(x)
    if entry is None:
        with record_ops() as record:
            outputs = model(batch, training=False)
        tape = _tape(model, record, batch, outputs)
        if len(replays) >= 8:
            replays.clear()
        replays[_key(x)] = _Entry(tape)  # after the call, which may build the model
        return _numpy(outputs)
    if entry.tape is None:
        return _numpy(model(batch, training=False))
    try:
        replayed = entry.tape.infer(x)
    except Exception:  # call raises it again below, in words, or differs
        replayed = None
    out = _numpy(model(batch, training=False))
    entry.verified = replayed is not None and all(
        np.array_equal(a, b, equal_nan=True)
        for a, b in zip(_listed(replayed), _listed(out), strict=True)
    )
    if not entry.verified:
        entry.tape = None
    return out


def _listed(data: Any) -> list[Any]:
    """One value, several (a list or tuple), or outputs by name (a dict), as a list."""
    if isinstance(data, dict):
        return list(data.values())
    return list(data) if isinstance(data, (list, tuple)) else [data]


def _arrays(x: Any) -> Any:
    """The batch's arrays: one, or a list for several inputs."""
    return [t.data for t in x] if isinstance(x, list) else x.data


def _numpy(outputs: Any) -> Any:
    """A model's outputs as arrays: one, or a list for several."""
    if isinstance(outputs, (list, tuple, dict)):
        return [o.numpy() for o in _listed(outputs)]
    return outputs.numpy() if isinstance(outputs, Tensor) else outputs
