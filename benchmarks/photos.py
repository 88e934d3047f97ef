"""From scratch on your photos: ``glassnet train``'s default recipe, and the same in PyTorch.

    python -m benchmarks.photos --data DIR                       # the defaults (20 epochs)
    python -m benchmarks.photos --data DIR --time-budget 20m     # planned to fit 20 minutes
    python -m benchmarks.photos --data DIR --epochs 25 --write   # + benchmarks/RESULTS.md
    python -m benchmarks.photos --data DIR --seed 0 1 2          # three runs, judged on means

``DIR`` holds one sub-folder of images per class, or ``DIR/train`` and ``DIR/test`` that each
do. Without ``train``/``test`` the benchmark holds out ``--test-share`` of each class (a seeded
split, as symbolic links in a temporary folder) for the final score, which neither side sees
while training.

glassnet's side is ``glassnet train`` itself (``glassnet.cli.training.train``, called as the
command calls it, with its defaults unless ``--epochs``/``--time-budget``/``--image-size``/
``--batch-size`` say otherwise): the dataset doctor, a 10 % validation split of the training
folder for keeping the best epoch and early stopping, photo_cnn with augmentation, AdamW on a
one-cycle schedule, label smoothing. The saved (best) model is then scored on the held-out
photos.

PyTorch's side trains the same network (a ``torch.nn`` twin of photo_cnn built here, starting
from glassnet's initial weights, NHWC kernels turned NCHW) on the same training and validation
images (decoded and resized by glassnet's loader), with the same recipe: the learning rate of
glassnet's saved schedule at every step, AdamW with the same weight decay and ε, cross-entropy
with the same label smoothing, batches of the same size, the same augmentations written with
torch ops (torchvision is not needed: random resized crop by ``affine_grid``/``grid_sample``,
left–right flips, brightness and contrast jitter), the best epoch by validation accuracy kept
and the same early stopping. What differs: the random numbers (the data order and the
augmentations draw from each library's own generator), batch normalization's running variance
(PyTorch keeps the unbiased one, glassnet Keras's biased one) and the floating-point rounding.

Reported: both held-out accuracies and whether they are within 2 points of each other (with
several ``--seed``, one row per seed and run, and the verdict on the mean accuracies: one
run's accuracy on a thousand photos moves by several points with the seed alone), the
epochs each trained, training and wall seconds and their ratios, the machine
(``benchmarks.machine``). Training seconds are the like-for-like time (the epochs, validation
included); wall seconds are glassnet's whole command (dataset doctor, summary, held-out report
included) and PyTorch's building, training and scoring. Run by hand, never by the test suite for
timing (its test runs a tiny folder for one epoch).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import math
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import describe_machine, limit_threads, write_results
from glassnet.applications import photo_recipe
from glassnet.data.images import IMAGE_EXTENSIONS


@dataclass
class Side:
    """One framework's run: held-out accuracy, epochs trained, seconds of training and of the
    whole run (for glassnet the whole ``glassnet train`` command)."""

    framework: str
    accuracy: float
    epochs: int
    train_seconds: float
    wall_seconds: float


# ----------------------------------------------------------------------------- the folders
def split_folder(data: Path, work: Path, test_share: float, seed: int) -> tuple[Path, Path]:
    """``(train, test)`` folders: ``data/train`` and ``data/test`` when both exist, else
    ``test_share`` of each class's images (a seeded choice) linked into ``work/test`` and the
    rest into ``work/train``."""
    if (data / "train").is_dir() and (data / "test").is_dir():
        return data / "train", data / "test"
    classes = sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise SystemExit(
            f"{data}: expected one sub-folder per class (at least two), or train/ "
            "and test/ folders that each have them."
        )
    rng = np.random.default_rng(seed)
    for folder in classes:
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file() and p.name.lower().endswith(IMAGE_EXTENSIONS)
        )
        held = set(rng.permutation(len(files))[: round(test_share * len(files))].tolist())
        for i, path in enumerate(files):
            target = work / ("test" if i in held else "train") / folder.name
            target.mkdir(parents=True, exist_ok=True)
            os.symlink(path.resolve(), target / f"{i:06d}{path.suffix.lower()}")
    return work / "train", work / "test"


def arrays(dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every image (uint8, NHWC) and label of a glassnet dataset, in file order."""
    xs, ys = zip(*dataset.in_order(), strict=True)
    return np.concatenate(xs).astype(np.uint8), np.concatenate(ys).astype(np.int64)


# ----------------------------------------------------------------------------- glassnet
def run_glassnet(train_dir: Path, test_dir: Path, out: Path, args: argparse.Namespace) -> Side:
    """``glassnet train`` on ``train_dir`` (its defaults, plus the options given), then the
    saved model scored on ``test_dir``."""
    import glassnet as gn
    from glassnet.cli.evaluation import predict_dataset
    from glassnet.cli.training import train
    from glassnet.data import image_dataset_from_directory

    options: dict[str, Any] = {"out": out, "seed": args.seed, "verbose": args.verbose}
    for name in ("epochs", "time_budget", "image_size", "batch_size"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    printed = _Tee(sys.stdout)
    start = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        train(train_dir, **options)
    wall = time.perf_counter() - start
    # The command prints "N epoch(s) trained (S s in this run)."
    found = re.search(r"(\d+) epoch\(s\) trained \(([\d.]+) s in this run\)", printed.getvalue())
    epochs, seconds = (int(found[1]), float(found[2])) if found else (0, math.nan)
    model = gn.load_model(out)
    size = tuple(model.preprocessing["image_size"])
    test = image_dataset_from_directory(
        test_dir, class_names=model.class_names, image_size=size, shuffle=False, batch_size=64
    )
    probs, labels, _ = predict_dataset(model, test)
    return Side("glassnet", float(np.mean(probs.argmax(1) == labels)), epochs, seconds, wall)


class _Tee(io.StringIO):
    """What is printed, shown as usual and kept."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text)
        return super().write(text)

    def flush(self) -> None:
        self.stream.flush()


# ----------------------------------------------------------------------------- PyTorch
def torch_photo_cnn(model: Any, torch: Any) -> Any:
    """glassnet's photo_cnn (``model``, augmentation layers in front allowed) as a torch.nn
    network with the same weights: NCHW images of raw 0–255 pixels in, logits out (the
    softmax goes into the loss)."""
    nn = torch.nn

    def conv(layer: Any, padding: int) -> Any:
        kernel = layer.kernel.data  # (kh, kw, in, out) → (out, in, kh, kw)
        out = nn.Conv2d(
            kernel.shape[2],
            kernel.shape[3],
            kernel.shape[0],
            stride=layer.strides[0],
            padding=padding,
            bias=False,
        )
        out.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
        return out

    def norm(layer: Any) -> Any:
        out = nn.BatchNorm2d(layer.gamma.shape[0], eps=layer.epsilon, momentum=1 - layer.momentum)
        for name, weight in [
            ("weight", layer.gamma),
            ("bias", layer.beta),
            ("running_mean", layer.moving_mean),
            ("running_var", layer.moving_variance),
        ]:
            getattr(out, name).data.copy_(torch.from_numpy(np.array(weight.data)))
        return out

    class Rescale(nn.Module):
        def __init__(self, scale: float) -> None:
            super().__init__()
            self.scale = scale

        def forward(self, x: Any) -> Any:
            return x * self.scale

    modules = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Rescaling":
            modules.append(Rescale(float(layer.scale)))
        elif kind == "Conv2D":
            modules.append(conv(layer, layer.kernel.shape[0] // 2))
        elif kind == "BatchNormalization":
            modules.append(norm(layer))
        elif kind == "ReLU":
            modules.append(nn.ReLU())
        elif kind == "MaxPooling2D":
            modules.append(nn.MaxPool2d(layer.pool_size[0]))
        elif kind == "GlobalAveragePooling2D":
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif kind == "Dropout":
            modules.append(nn.Dropout(layer.rate))
        elif kind == "Dense":
            dense = nn.Linear(*layer.kernel.shape)
            dense.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(layer.kernel.data.T)))
            dense.bias.data.copy_(torch.from_numpy(np.array(layer.bias.data)))
            modules.append(dense)
        elif not kind.startswith("Random"):
            raise ValueError(f"torch_photo_cnn: no torch twin for layer '{layer.name}' ({kind}).")
    return nn.Sequential(*modules)


def crop_of(model: Any) -> int | None:
    """The side of the random crop in front of glassnet's network (None without one)."""
    crops = [layer for layer in model.layers if type(layer).__name__ == "RandomCrop"]
    return crops[0].height if crops else None


def torch_augment(x: Any, generator: Any, torch: Any, crop: int) -> Any:
    """photo_recipe's augmentation on a float NCHW batch of 0–255 pixels, with torch ops and
    the same distributions: a random ``crop``×``crop`` square (every position equally likely)
    and a left–right flip with probability ½."""
    n, _, height, width = x.shape
    tops = torch.randint(0, height - crop + 1, (n,), generator=generator)
    lefts = torch.randint(0, width - crop + 1, (n,), generator=generator)
    x = torch.stack(
        [x[i, :, t : t + crop, s : s + crop] for i, t, s in zip(range(n), tops, lefts, strict=True)]
    )
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def centre(x: Any, crop: int | None) -> Any:
    """The centre ``crop``×``crop`` square of NCHW images (RandomCrop at inference)."""
    if crop is None:
        return x
    top, left = (x.shape[2] - crop) // 2, (x.shape[3] - crop) // 2
    return x[:, :, top : top + crop, left : left + crop]


def run_torch(
    model: Any,
    data: tuple[np.ndarray, ...],
    schedule: Any,
    epochs: int,
    batch_size: int,
    seed: int,
) -> Side:
    """The same network, recipe and images in PyTorch: ``epochs`` epochs (or fewer, stopped
    early), the best epoch by validation accuracy scored on the held-out images."""
    import torch

    start = time.perf_counter()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = torch_photo_cnn(model, torch)
    crop = crop_of(model)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=schedule(0), weight_decay=photo_recipe.WEIGHT_DECAY, eps=1e-7
    )
    x_train, y_train, x_val, y_val, x_test, y_test = data

    def nchw(x: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).float()

    def score(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        net.eval()
        with torch.no_grad():
            logits = torch.cat(
                [net(centre(nchw(x[i : i + 64]), crop)) for i in range(0, len(x), 64)]
            )
        target = torch.from_numpy(y)
        loss = torch.nn.functional.cross_entropy(
            logits, target, label_smoothing=photo_recipe.LABEL_SMOOTHING
        )
        return float((logits.argmax(1) == target).float().mean()), float(loss)

    stopping = photo_recipe.photo_early_stopping(epochs)
    best, best_state, waited, step, trained, seconds = None, None, 0, 0, 0, 0.0
    for epoch in range(epochs):
        tick = time.perf_counter()
        net.train()
        order = torch.randperm(len(x_train), generator=generator).numpy()
        for i in range(0, len(order), batch_size):
            batch = order[i : i + batch_size]
            for group in optimizer.param_groups:
                group["lr"] = schedule(step)
            x = nchw(x_train[batch])
            x = x if crop is None else torch_augment(x, generator, torch, crop)
            loss = torch.nn.functional.cross_entropy(
                net(x),
                torch.from_numpy(y_train[batch]),
                label_smoothing=photo_recipe.LABEL_SMOOTHING,
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
        trained += 1
        accuracy, val_loss = score(x_val, y_val) if len(x_val) else score(x_train, y_train)
        seconds += time.perf_counter() - tick
        if best is None or (accuracy, -val_loss) > best:
            improved = best is None or accuracy > best[0]
            best, best_state = (accuracy, -val_loss), copy.deepcopy(net.state_dict())
            waited = 0 if improved else waited + 1
        else:
            waited += 1
        if epoch < stopping.start_from_epoch:
            waited = 0  # glassnet's EarlyStopping counts from start_from_epoch on
        elif waited >= stopping.patience:
            break
    net.load_state_dict(best_state)
    accuracy, _ = score(x_test, y_test)
    return Side("PyTorch", accuracy, trained, seconds, time.perf_counter() - start)


# ----------------------------------------------------------------------------- the run
def torch_data(train_dir: Path, test_dir: Path, model: Any, args: argparse.Namespace) -> tuple:
    """The training, validation and held-out images glassnet used, as arrays: the same
    seeded validation split ``glassnet train`` makes (``VALIDATION_SPLIT``), decoded by the
    same loader."""
    from glassnet.data import image_dataset_from_directory

    size = tuple(model.preprocessing["image_size"])
    common = {"image_size": size, "seed": args.seed, "batch_size": 64}
    train, val = image_dataset_from_directory(
        train_dir, validation_split=photo_recipe.VALIDATION_SPLIT, subset="both", **common
    )
    test = image_dataset_from_directory(
        test_dir, class_names=model.class_names, image_size=size, shuffle=False, batch_size=64
    )
    return (*arrays(train), *arrays(val), *arrays(test))


def initial_model(train_dir: Path, model: Any, args: argparse.Namespace) -> Any:
    """The network ``glassnet train`` started from: ``build_classifier`` seeds the engine
    with ``--seed`` first, so building it again gives the same initial weights."""
    from glassnet.cli.training import build_classifier

    size = tuple(model.preprocessing["image_size"])
    shape = (*size, model.input_shape[-1])
    return build_classifier("photo-cnn", shape, len(model.class_names), True, args.seed)


def table(runs: list[tuple[int, list[Side]]]) -> str:
    """The Markdown table of every seed's sides, with glassnet's times over PyTorch's and the
    accuracy difference: the seed's own for one seed, the means' for several (one seed's
    held-out accuracy moves by several points with the seed alone, so a difference of 2
    points can only be told from a mean)."""
    rows = [
        "| seed | framework | held-out accuracy | epochs | training s | wall s |",
        "|---|---|---|---|---|---|",
    ]
    for seed, sides in runs:
        for s in sides:
            rows.append(
                f"| {seed} | {s.framework} | {s.accuracy:.2%} | {s.epochs} | "
                f"{s.train_seconds:.1f} | {s.wall_seconds:.1f} |"
            )
    paired = [sides for _, sides in runs if len(sides) == 2 and sides[1].wall_seconds > 0]
    if not paired:
        return "\n".join(rows)
    ours = [sides[0] for sides in paired]
    theirs = [sides[1] for sides in paired]
    wall = sum(s.wall_seconds for s in ours) / sum(s.wall_seconds for s in theirs)
    ratios = [f"glassnet / PyTorch wall time: {wall:.2f}×"]
    train = [s.train_seconds for s in ours]
    if all(math.isfinite(t) for t in train):
        ratios.append(f"training time: {sum(train) / sum(s.train_seconds for s in theirs):.2f}×")
    gap = 100 * (np.mean([s.accuracy for s in ours]) - np.mean([s.accuracy for s in theirs]))
    within = "within" if abs(gap) <= 2 else "NOT within"
    what = (
        "accuracy difference"
        if len(paired) == 1
        else f"mean accuracy difference over {len(paired)} seeds"
    )
    ratios.append(f"{what}: {gap:+.1f} points ({within} 2 points)")
    if len(paired) > 1:
        means = (np.mean([s.accuracy for s in side]) for side in (ours, theirs))
        ratios.append("means: glassnet {:.2%}, PyTorch {:.2%}".format(*means))
    return "\n".join([*rows, "", "; ".join(ratios)])


def seed_args(args: argparse.Namespace, seed: int) -> argparse.Namespace:
    """``args`` for one seed's run: the held-out split if one is made, glassnet's initial
    weights, data order and augmentations, and PyTorch's generator."""
    return argparse.Namespace(**{**vars(args), "seed": seed})


def torch_side(args: argparse.Namespace, train_dir: Path, test_dir: Path, out: Path) -> Side:
    """PyTorch's run of the recipe glassnet saved in ``out``: its schedule, its initial
    weights (built again from the seed), its training, validation and held-out images."""
    import glassnet as gn

    saved = gn.load_model(out)
    schedule = gn.optimizers.schedules.deserialize(saved.optimizer.get_config()["learning_rate"])
    steps = schedule.warmup_steps + schedule.decay_steps
    data = torch_data(train_dir, test_dir, saved, args)
    per_epoch = math.ceil(len(data[0]) / (args.batch_size or 32))
    start = initial_model(train_dir, saved, args)
    limit_threads(args.threads)
    epochs = round(steps / per_epoch)
    return run_torch(start, data, schedule, epochs, args.batch_size or 32, args.seed)


def main(argv: list[str] | None = None) -> list[Side]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="class folders, or train/ test/")
    parser.add_argument("--epochs", type=int, help="glassnet train's --epochs (default: its own)")
    parser.add_argument("--time-budget", help="glassnet train's --time-budget, e.g. 20m")
    parser.add_argument("--image-size", type=int, help="glassnet train's --image-size")
    parser.add_argument("--batch-size", type=int, help="glassnet train's --batch-size")
    parser.add_argument("--test-share", type=float, default=0.2, help="held out without test/")
    parser.add_argument(
        "--seed",
        type=int,
        nargs="+",
        default=[0],
        help="one run of both sides per seed (several: the verdict is on the mean accuracies)",
    )
    parser.add_argument("--threads", type=int, default=2, help="BLAS and PyTorch threads")
    parser.add_argument("--verbose", type=int, default=1, help="glassnet train's --verbose")
    parser.add_argument("--no-torch", action="store_true", help="glassnet's side only")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    runs: list[tuple[int, list[Side]]] = []
    with tempfile.TemporaryDirectory(prefix="glassnet-photos-") as work:
        # Every glassnet run first: once PyTorch is imported, its OpenMP runtime slows
        # NumPy's BLAS in the same process (benchmarks.compare measures it).
        limit_threads(args.threads, torch=False)
        folders = []
        for seed in args.seed:
            one = seed_args(args, seed)
            train_dir, test_dir = split_folder(
                args.data, Path(work) / str(seed), one.test_share, seed
            )
            (Path(work) / str(seed)).mkdir(exist_ok=True)
            out = Path(work) / str(seed) / "photos.glassnet"
            folders.append((one, train_dir, test_dir, out))
            runs.append((seed, [run_glassnet(train_dir, test_dir, out, one)]))
        if not args.no_torch:
            for (_, sides), (one, train_dir, test_dir, out) in zip(runs, folders, strict=True):
                sides.append(torch_side(one, train_dir, test_dir, out))
    report = table(runs)
    print(f"\n{report}\n\n{describe_machine(args.threads)}")
    if args.write:
        body = f"{report}\n\n{describe_machine(args.threads)}"
        write_results(
            "Photos from scratch: glassnet train's recipe vs PyTorch",
            body,
            "python -m benchmarks.photos " + " ".join(argv or sys.argv[1:]),
        )
    return [side for _, sides in runs for side in sides]


if __name__ == "__main__":
    main()
