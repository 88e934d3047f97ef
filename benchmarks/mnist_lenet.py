"""End to end: LeNet-5 on MNIST to ≥ 99.0 % test accuracy, glassnet and PyTorch, same recipe.

Both sides: the architecture of ``glassnet.applications.LeNet5`` (conv 5×5×6 "same" + ReLU +
max-pool 2, conv 5×5×16 + ReLU + max-pool 2, Dense 120, 84, 10), the same initial weights
(PyTorch's are copied from glassnet's Glorot-uniform start), pixels scaled to [0, 1], Adam with
learning rate 1e-3 and ε = 1e-7, batches of 64 reshuffled every epoch, float32, 2 threads each.
The sides train in turns, one epoch each, and score the whole test set after every epoch; a
side stops at the first epoch that reaches the target, or after ``--epochs``.

    python -m benchmarks.mnist_lenet --data ../shared/data/mnist            # both sides
    python -m benchmarks.mnist_lenet --data DIR --write                      # + RESULTS.md

Run by hand, never by the test suite.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import glassnet as gn
from benchmarks.machine import describe_machine, limit_threads, write_results


@dataclass
class Run:
    """One side's run: test accuracy and seconds of training after each epoch, and the wall
    time of the whole run (model building, training and every epoch's test scoring)."""

    framework: str
    accuracies: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0

    def epochs_to(self, target: float) -> int | None:
        return next((i + 1 for i, a in enumerate(self.accuracies) if a >= target), None)


def load(data: str, limit: int | None) -> tuple[np.ndarray, ...]:
    """MNIST as float32 in [0, 1], channels-last, with integer labels."""
    (x_train, y_train), (x_test, y_test) = gn.datasets.mnist.load_data(data)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    scale = np.float32(1 / 255)
    return (
        x_train[..., None].astype(np.float32) * scale,
        y_train.astype(np.int64),
        x_test[..., None].astype(np.float32) * scale,
        y_test.astype(np.int64),
    )


class GlassnetSide:
    """glassnet's LeNet-5, compiled with the recipe, trained one epoch at a time."""

    framework = "glassnet"

    def __init__(self, data: tuple, seed: int) -> None:
        self.x, self.y, self.xt, self.yt = data
        gn.set_seed(seed)
        self.model = gn.applications.LeNet5()
        self.initial = self.model.get_weights()
        self.model.compile(
            gn.optimizers.Adam(1e-3, epsilon=1e-7), "sparse_categorical_crossentropy"
        )

    def epoch(self) -> tuple[float, float]:
        """Train one epoch, then score the test set: (training seconds, test accuracy)."""
        start = time.perf_counter()
        self.model.fit(self.x, self.y, epochs=1, batch_size=64, verbose=0)
        seconds = time.perf_counter() - start
        predicted = self.model.predict(self.xt, batch_size=1000).argmax(1)
        return seconds, float((predicted == self.yt).mean())


class TorchSide:
    """The same network and recipe in PyTorch (NCHW), starting from glassnet's weights."""

    framework = "PyTorch"

    def __init__(self, data: tuple, initial: list, seed: int) -> None:
        import torch

        self.torch = torch
        x, y, xt, self.yt = data
        torch.manual_seed(seed)
        self.net = torch_lenet(torch)
        copy_lenet_weights(initial, self.net, torch)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3, eps=1e-7)
        to_nchw: Callable[[np.ndarray], torch.Tensor] = lambda a: torch.from_numpy(  # noqa: E731
            np.ascontiguousarray(a.transpose(0, 3, 1, 2))
        )
        self.x, self.y, self.xt = to_nchw(x), torch.from_numpy(y), to_nchw(xt)

    def epoch(self) -> tuple[float, float]:
        """Train one epoch, then score the test set: (training seconds, test accuracy)."""
        torch, net = self.torch, self.net
        start = time.perf_counter()
        net.train()
        order = torch.randperm(len(self.x))
        for i in range(0, len(order), 64):
            batch = order[i : i + 64]
            self.optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(self.x[batch]), self.y[batch])
            loss.backward()
            self.optimizer.step()
        seconds = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            outputs = [net(self.xt[i : i + 1000]) for i in range(0, len(self.xt), 1000)]
        predicted = torch.cat(outputs).argmax(1).numpy()
        return seconds, float((predicted == self.yt).mean())


def race(data: tuple, epochs: int, target: float, seed: int, with_torch: bool) -> list[Run]:
    """Train the sides in turns, one epoch each, so that a slow spell of this shared machine
    falls on both alike; a side stops at the first epoch that reaches ``target``."""
    began = time.perf_counter()
    sides: list = [GlassnetSide(data, seed)]
    built = [time.perf_counter() - began]
    if with_torch:
        began = time.perf_counter()
        sides.append(TorchSide(data, sides[0].initial, seed))
        built.append(time.perf_counter() - began)
    runs = [Run(side.framework, wall_seconds=b) for side, b in zip(sides, built, strict=True)]
    for _ in range(epochs):
        for side, run in zip(sides, runs, strict=True):
            if run.epochs_to(target):
                continue
            began = time.perf_counter()
            seconds, accuracy = side.epoch()
            run.wall_seconds += time.perf_counter() - began
            run.train_seconds.append(seconds)
            run.accuracies.append(accuracy)
            print(f"  {run.framework:8s} epoch {len(run.accuracies)}: test accuracy {accuracy:.4f}")
        if all(run.epochs_to(target) for run in runs):
            break
    return runs


def torch_lenet(torch: Any) -> Any:
    """glassnet's LeNet-5 (``applications.LeNet5``) written in torch.nn, NCHW, logits out."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),  # 5×5 "same" pads 2 on every side
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def copy_lenet_weights(weights: list, net: object, torch: object) -> None:
    """glassnet's LeNet-5 weights into the torch network: kernels (kh, kw, in, out) become
    (out, in, kh, kw), Dense kernels (in, out) become Linear weights (out, in). The first Dense
    layer also needs its inputs reordered: glassnet flattens (h, w, c), torch (c, h, w)."""
    layers = [m for m in net if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    for i, layer in enumerate(layers):
        kernel, bias = weights[2 * i], weights[2 * i + 1]
        if kernel.ndim == 4:
            kernel = kernel.transpose(3, 2, 0, 1)
        elif i == 2:  # fc1 after Flatten of (5, 5, 16)
            kernel = kernel.reshape(5, 5, 16, -1).transpose(3, 2, 0, 1).reshape(-1, 400)
        else:
            kernel = kernel.T
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            layer.bias.copy_(torch.from_numpy(bias))


def table(runs: list[Run], target: float) -> str:
    lines = [
        f"| framework | epochs to ≥ {target:.1%} | final test accuracy | training time "
        "| seconds / epoch | wall time (training + scoring) |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        reached = run.epochs_to(target)
        lines.append(
            f"| {run.framework} | {reached if reached else f'not within {len(run.accuracies)}'} "
            f"| {run.accuracies[-1]:.2%} | {sum(run.train_seconds):.1f} s "
            f"| {np.median(run.train_seconds):.1f} | {run.wall_seconds:.1f} s |"
        )
    if len(runs) == 2:
        ratio = np.median(runs[0].train_seconds) / np.median(runs[1].train_seconds)
        lines.append(f"\nglassnet / PyTorch time per epoch: {ratio:.2f}×")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Run]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/mnist", help="folder with the IDX files")
    parser.add_argument("--epochs", type=int, default=15, help="at most this many epochs")
    parser.add_argument("--target", type=float, default=0.99, help="test accuracy to reach")
    parser.add_argument("--limit", type=int, default=None, help="use only N training images")
    parser.add_argument("--threads", type=int, default=2, help="BLAS/torch threads per side")
    parser.add_argument("--no-torch", action="store_true", help="run glassnet only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    parser.add_argument("--title", default="LeNet-5 on MNIST", help="heading in RESULTS.md")
    args = parser.parse_args(argv)
    limit_threads(args.threads)
    start = time.perf_counter()
    data = load(args.data, args.limit)
    loading = time.perf_counter() - start
    print(f"{len(data[0])} training and {len(data[2])} test images from {args.data}")
    runs = race(data, args.epochs, args.target, args.seed, with_torch=not args.no_torch)
    text = table(runs, args.target) + f"\n\nLoading the data (both sides share it): {loading:.1f} s"
    print(text)
    if args.write:
        command = "python -m benchmarks.mnist_lenet " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        write_results(args.title, f"{describe_machine(args.threads)}\n\n{text}", command)
    return runs


if __name__ == "__main__":
    main()
