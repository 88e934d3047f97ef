"""The benchmark scripts run (on tiny files): they are run by hand on the real data, so a
broken script would otherwise only be found on the day of the measurement. No timing here."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import mnist_lenet
from tests.test_datasets import write_mnist


def test_mnist_lenet_runs_both_sides_and_starts_them_equal(tmp_path, torch):
    write_mnist(tmp_path, np.random.default_rng(0), n_train=128, n_test=32, gz=True)
    runs = mnist_lenet.main(["--data", str(tmp_path), "--epochs", "1", "--threads", "1"])
    assert [r.framework for r in runs] == ["glassnet", "PyTorch"]
    assert all(len(r.accuracies) == 1 and 0 <= r.accuracies[0] <= 1 for r in runs)
    # Wall time covers building, training and scoring, so it is at least the training time.
    assert all(r.wall_seconds >= sum(r.train_seconds) > 0 for r in runs)
    assert "wall time" in mnist_lenet.table(runs, 0.99)


def test_mnist_lenet_sides_take_turns_and_stop_at_the_target(tmp_path, torch, capsys):
    """Epochs alternate glassnet, PyTorch, glassnet, ...; a side that reached the target
    (here 0, reached at once) trains no further epochs while the race goes on."""
    write_mnist(tmp_path, np.random.default_rng(0), n_train=64, n_test=16, gz=False)
    data = mnist_lenet.load(str(tmp_path), None)
    runs = mnist_lenet.race(data, epochs=3, target=0.0, seed=0, with_torch=True)
    assert [len(r.accuracies) for r in runs] == [1, 1]
    runs = mnist_lenet.race(data, epochs=2, target=1.01, seed=0, with_torch=True)
    assert [len(r.accuracies) for r in runs] == [2, 2]
    lines = [line.split()[0] for line in capsys.readouterr().out.splitlines() if "epoch" in line]
    assert lines[-4:] == ["glassnet", "PyTorch", "glassnet", "PyTorch"]


def test_copied_weights_give_the_same_predictions(torch):
    """PyTorch's LeNet-5 with glassnet's weights computes the same function (the Flatten order
    and kernel layouts are converted correctly), so both sides really start equal."""
    import glassnet as gn

    gn.set_seed(1)
    model = gn.applications.LeNet5()
    net = mnist_lenet.torch_lenet(torch)
    mnist_lenet.copy_lenet_weights(model.get_weights(), net, torch)
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    ours = model.predict(x)
    with torch.no_grad():
        theirs = torch.softmax(net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())), 1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("make", ["cifar_model", "photo_model", "rnn_model"])
def test_compares_torch_twin_computes_glassnets_function(torch, make):
    """benchmarks.compare's PyTorch side, built from glassnet's model, gives its predictions
    (kernel layouts, the Flatten order, the LSTM's gates and biases), so both sides start
    equal."""
    import glassnet as gn
    from benchmarks import compare

    gn.set_seed(0)
    model = getattr(compare, make)()
    x = np.random.default_rng(0).random((3, *model.input_shape[1:]), dtype=np.float32)
    net = compare.torch_twin(model, torch).eval()
    xt = torch.from_numpy(x if x.ndim != 4 else np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    with torch.no_grad():
        theirs = net(xt).numpy()
    np.testing.assert_allclose(model.predict(x), theirs, rtol=1e-4, atol=1e-5)


def test_mobilenet_v2_twin_computes_glassnets_function(torch):
    """M1's PyTorch MobileNetV2, built from glassnet's with its weights, gives its predictions
    (BN statistics randomised so that they matter; a small image and width keep it quick)."""
    import glassnet as gn
    from benchmarks.torch_mobilenet import from_glassnet

    gn.set_seed(0)
    model = gn.applications.MobileNetV2((64, 64, 3), alpha=0.5, classes=5)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        for key, w in layer.named_weights():
            if key in ("gamma", "moving_variance"):
                w.data[...] = rng.uniform(0.5, 1.5, w.shape)
            elif key in ("beta", "moving_mean"):
                w.data[...] = rng.normal(0.0, 0.1, w.shape)
    net = from_glassnet(model, alpha=0.5).eval()
    x = rng.random((2, 64, 64, 3), dtype=np.float32)
    with torch.no_grad():
        theirs = torch.softmax(net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())), 1).numpy()
    np.testing.assert_allclose(model.predict(x), theirs, rtol=1e-4, atol=1e-5)


def test_transformer_block_twin_computes_and_trains_like_glassnet(torch):
    """T1's two transformer blocks: the same predictions from the same weights, and after one
    Adam step on the same batch the same predictions again (the gradients agree)."""
    import glassnet as gn
    from benchmarks.transformer_block import glassnet_model, torch_model

    gn.set_seed(0)
    model = glassnet_model()
    net = torch_model(model)
    assert model.count_params() == sum(p.numel() for p in net.parameters())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, *model.input_shape[1:])).astype(np.float32)
    y = rng.integers(0, 10, 4)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x), theirs, rtol=1e-4, atol=1e-5)
    model.compile(
        gn.optimizers.Adam(1e-3, epsilon=1e-7),
        gn.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.train_on_batch(x, y)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    opt.step()
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x), theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("one_process", [False, True])
def test_compare_times_every_side_in_blocks(torch, one_process):
    """benchmarks.compare's W1 runs glassnet and PyTorch, each in its own process by default,
    and returns the asked-for number of timings per side."""
    from benchmarks import compare

    w1 = next(w for w in compare.workloads() if w.name == "W1")
    w1.steps = 5
    times = compare.measure(w1, warmup=1, settle=0, settle_ms=0, one_process=one_process)
    assert times.pop("_macs")[0] > 0
    assert set(times) == {"glassnet", "torch_nchw"}
    assert all(len(t) == 5 and min(t) > 0 for t in times.values())


@pytest.fixture
def peer_env(monkeypatch):
    """benchmarks.peers with JAX and tinygrad forced onto the CPU; the variables it sets are
    restored afterwards (the libraries, once imported, keep their settings)."""
    from benchmarks import peers

    for name in ("JAX_PLATFORMS", "XLA_FLAGS", "DEV", "NUM_CPU_THREADS", "CC"):
        monkeypatch.delenv(name, raising=False)  # records the old value for teardown
    for name, value in peers.configure_peers(1).items():
        monkeypatch.setenv(name, value)
    return peers


@pytest.mark.parametrize("peer", ["jax", "tinygrad"])
def test_peer_inference_matches_glassnet_predict(peer_env, peer):
    """benchmarks.peers rebuilds a small CNN (conv, pool, flatten, dense) in JAX and tinygrad
    with glassnet's weights: their forward passes give glassnet's predictions (W4's path)."""
    pytest.importorskip(peer)
    import glassnet as gn
    from glassnet import layers as L

    peers = peer_env
    gn.set_seed(0)
    model = gn.Sequential(
        [
            L.Input((6, 6, 2)),
            L.Conv2D(3, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(4),
        ]
    )
    specs = peers.layer_specs(model)
    x = np.random.default_rng(0).random((2, 6, 6, 2), dtype=np.float32)
    if peer == "jax":
        step = peers.jax_inference(peers.jax_model(specs), x)
    else:
        step = peers.tinygrad_inference(peers.tinygrad_model(specs), x)
    for _ in range(peers.WARMUP):  # TinyJit: run, capture, replay
        got = np.asarray(step())
    np.testing.assert_allclose(got, model.predict(x), rtol=1e-5, atol=1e-6)


def test_peer_resnet50_has_glassnets_architecture():
    """The peers' ResNet-50 (written out in benchmarks.peers, W5) takes every glassnet
    ResNet50 kernel at the shape it expects and counts 25,557,032 parameters."""
    import glassnet as gn
    from benchmarks import peers

    net = peers.resnet50_spec(gn.applications.ResNet50())
    assert net.count_params() == 25_557_032
    assert len(net.convs()) == 53  # stem, 16 blocks of 3, 4 shortcuts


def test_winograd_computes_glassnets_convolution(monkeypatch):
    """The Winograd path the benchmark times gives conv2d's numbers: odd sizes (the extra row
    and column of padding), several chunks of images, and a table row per shape."""
    from benchmarks import winograd

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7, 9, 3), dtype=np.float32)
    w = rng.standard_normal((3, 3, 3, 4), dtype=np.float32)
    b = rng.standard_normal(4, dtype=np.float32)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)  # one image per chunk
    got = winograd.winograd_conv(x, winograd.filter_transform(w), b)
    np.testing.assert_allclose(got, winograd.glassnet_conv(x, w, b), rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(winograd, "SHAPES", ((2, 6, 3, 4), (1, 5, 4, 2)))
    table = winograd.main(["--pairs", "1"])
    assert table.count("\n| ") == 3  # the header and one row per shape


def test_long_rows_benchmark_times_what_numpy_computes(monkeypatch):
    """Each long-row variant the table times gives NumPy's numbers on the rows it covers (all
    but a tail that does not fill a long row), and the table has a row per shape and
    operation."""
    from benchmarks import long_rows

    rng = np.random.default_rng(0)
    rows = rng.standard_normal((1000, 6)).astype(np.float32)
    v = rng.standard_normal(6).astype(np.float32)
    head = 1000 - 1000 % (2048 // 6)  # 682 rows in long rows of 341 · 6 numbers
    out = np.zeros_like(rows)
    long_rows._multiply(rows, v, out, 2048)()
    np.testing.assert_array_equal(out[:head], rows[:head] * v)
    sums = long_rows._column_sum(rows, 2048)().reshape(-1, 6).sum(axis=0)
    np.testing.assert_allclose(sums, rows[:head].sum(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(long_rows._column_sum(rows, 0)(), rows.sum(axis=0))
    monkeypatch.setattr(long_rows, "SHAPES", ((300, 4), (50, 64)))
    monkeypatch.setattr(long_rows, "LENGTHS", (256, 1024))
    table = long_rows.main(["--pairs", "1"])
    assert table.count("\n| ") == 5  # the header and two operations per shape


def test_chunks_benchmark_times_each_size_and_restores_the_engines(monkeypatch):
    """Every size is timed with the engine's buffer set to it, the engine's own size is back
    afterwards, and the table has a row per workload."""
    from benchmarks import chunks
    from glassnet.ops import _conv_kernels as kernels

    engines, seen = kernels._CHUNK_BYTES, []
    medians = chunks.interleaved_sizes(lambda: seen.append(kernels._CHUNK_BYTES), [7, 9], 2, 1)
    assert set(medians) == {7, 9} and seen.count(7) == seen.count(9) == 1 + 2 * 2
    assert kernels._CHUNK_BYTES == engines
    table = chunks.main(["--only", "W1", "--kib", "64", "32", "--rounds", "1", "--block", "1"])
    assert table.count("\n| W1 |") == 1 and kernels._CHUNK_BYTES == engines


# ----------------------------------------------------------------------------- photos
def _randomise_batch_norms(model, rng):
    """BN statistics away from 0 and 1, so that a wrong copy of them would show."""
    for _, layer in model.named_layers():
        if isinstance(layer, __import__("glassnet").layers.BatchNormalization):
            layer.gamma.data[...] = rng.uniform(0.5, 1.5, layer.gamma.shape)
            layer.beta.data[...] = rng.normal(0.0, 0.1, layer.beta.shape)
            layer.moving_mean.data[...] = rng.normal(0.0, 0.1, layer.moving_mean.shape)
            layer.moving_variance.data[...] = rng.uniform(0.5, 1.5, layer.moving_variance.shape)


def test_photo_cnn_twin_computes_and_trains_like_glassnet(torch):
    """benchmarks.photos' torch.nn photo_cnn, with glassnet's weights, gives its predictions
    (the "same" padding, BN statistics, pooling), and one step of the recipe (AdamW with its
    weight decay and ε, label smoothing, the one-cycle rate) moves both alike."""
    import glassnet as gn
    from benchmarks import photos
    from glassnet.applications import photo_cnn, photo_recipe

    gn.set_seed(0)
    rng = np.random.default_rng(0)
    model = photo_cnn((20, 20, 3), classes=3, dropout=0.0)
    _randomise_batch_norms(model, rng)
    net = photos.torch_photo_cnn(model, torch).eval()
    x = rng.uniform(0, 255, (4, 20, 20, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 1])
    nchw = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    with torch.no_grad():
        theirs = torch.softmax(net(nchw), 1).numpy()
    np.testing.assert_allclose(model.predict(x), theirs, rtol=1e-4, atol=1e-5)

    schedule = gn.optimizers.schedules.one_cycle(0.01, total_steps=10)
    model.compile(photo_recipe.photo_optimizer("adamw", 10, 0.01), photo_recipe.photo_loss())
    ours = model.train_on_batch(x, y)
    opt = torch.optim.AdamW(
        net.parameters(), lr=schedule(0), weight_decay=photo_recipe.WEIGHT_DECAY, eps=1e-7
    )
    net.train()
    loss = torch.nn.functional.cross_entropy(
        net(nchw), torch.from_numpy(y), label_smoothing=photo_recipe.LABEL_SMOOTHING
    )
    loss.backward()
    opt.step()
    assert ours == pytest.approx(loss.item(), rel=1e-5)
    # The weights moved alike. (Not the predictions: torch's running variance is the unbiased
    # one, glassnet's Keras's biased one, so inference after training differs slightly.)
    stem, dense = net[1], net[-1]
    np.testing.assert_allclose(
        model.get_layer("block1_conv1").kernel.data.transpose(3, 2, 0, 1),
        stem.weight.detach().numpy(),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        model.get_layer("predictions").kernel.data.T, dense.weight.detach().numpy(), atol=1e-6
    )


def test_photos_torch_augmentation_crops_and_flips_as_glassnet_does(torch):
    """A random square of the side asked for, at every position, mirrored or not; the
    centre square at inference, as glassnet's RandomCrop gives it."""
    import glassnet as gn
    from benchmarks import photos

    generator = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 10, 12, generator=generator) * 255
    out = photos.torch_augment(x, generator, torch, crop=8)
    assert out.shape == (64, 3, 8, 8)
    found = set()
    for i in range(64):
        for top in range(3):
            for left in range(5):
                piece = x[i, :, top : top + 8, left : left + 8]
                if torch.equal(out[i], piece) or torch.equal(out[i], piece.flip(2)):
                    found.add((top, left, torch.equal(out[i], piece)))
    assert len({(t, s) for t, s, _ in found}) > 8 and {kept for *_, kept in found} == {True, False}
    whole = photos.torch_augment(x, generator, torch, crop=10)[:, :, :, :10]
    assert whole.shape == (64, 3, 10, 10)
    crop = gn.layers.RandomCrop(8, 8)
    centre = crop(gn.Tensor(x.numpy().transpose(0, 2, 3, 1))).numpy().transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(photos.centre(x, 8).numpy(), centre)


def test_photos_benchmark_runs_both_sides_on_a_tiny_folder(tmp_path, torch, capsys):
    """One epoch on a few drawn shapes: both sides train and report an accuracy (no timing
    is checked); the held-out split is made when the folder has no train/ and test/."""
    from benchmarks import photos
    from tests.test_cli import draw_shapes

    root = draw_shapes(tmp_path / "shapes", per_class=15)
    argv = ["--data", str(root), "--epochs", "1", "--image-size", "24", "--threads", "1"]
    sides = photos.main([*argv, "--batch-size", "8", "--verbose", "0"])
    assert [s.framework for s in sides] == ["glassnet", "PyTorch"]
    assert all(0 <= s.accuracy <= 1 and s.epochs == 1 for s in sides)
    assert all(s.wall_seconds >= s.train_seconds > 0 for s in sides)
    shown = capsys.readouterr().out
    assert "| glassnet |" in shown and "| PyTorch |" in shown
    assert "glassnet / PyTorch wall time:" in shown and "machine:" in shown


def test_photos_several_seeds_are_judged_on_the_mean_accuracies(tmp_path, capsys):
    """With several --seed the table has a row per seed and side, and the 2-point verdict is
    on the means: +6 and -5 points average to +0.5."""
    from benchmarks import photos

    def side(framework: str, accuracy: float) -> photos.Side:
        return photos.Side(framework, accuracy, 20, 100.0, 110.0)

    runs = [
        (0, [side("glassnet", 0.86), side("PyTorch", 0.80)]),
        (1, [side("glassnet", 0.77), side("PyTorch", 0.82)]),
    ]
    text = photos.table(runs)
    assert "| 1 | PyTorch | 82.00% | 20 | 100.0 | 110.0 |" in text
    assert "mean accuracy difference over 2 seeds: +0.5 points (within 2 points)" in text
    assert "means: glassnet 81.50%, PyTorch 81.00%" in text
    assert "(NOT within 2 points)" in photos.table(runs[:1])  # one seed: its own +6
    assert "within" not in photos.table([(0, [side("glassnet", 0.5)])])  # glassnet alone
    from tests.test_cli import draw_shapes

    root = draw_shapes(tmp_path / "shapes", per_class=8)
    argv = ["--data", str(root), "--epochs", "1", "--image-size", "24", "--threads", "1"]
    sides = photos.main([*argv, "--seed", "0", "1", "--no-torch", "--verbose", "0"])
    assert [s.framework for s in sides] == ["glassnet", "glassnet"]
    shown = capsys.readouterr().out
    assert "| 0 | glassnet |" in shown and "| 1 | glassnet |" in shown


def test_photos_split_holds_out_a_share_of_each_class(tmp_path):
    from benchmarks import photos
    from tests.test_cli import draw_shapes

    root = draw_shapes(tmp_path / "shapes", per_class=10)
    train, test = photos.split_folder(root, tmp_path / "work", 0.2, seed=0)
    for name in ("circles", "squares"):
        assert len(list((test / name).iterdir())) == 2
        assert len(list((train / name).iterdir())) == 8
    (root / "train").mkdir(), (root / "test").mkdir()
    assert photos.split_folder(root, tmp_path / "other", 0.2, 0) == (root / "train", root / "test")


# ----------------------------------------------------------------------------- P2
def test_p2_is_glassnet_trains_default_network_at_its_crop_size():
    """P2 trains ``applications.photo_cnn`` on 96×96×3 images for 2 classes at batch 32."""
    from benchmarks import compare

    p2 = next(w for w in compare.workloads() if w.name == "P2")
    assert (p2.batch, p2.training) == (32, True)
    model = compare.photo_cnn_model()
    assert model.input_shape == (None, 96, 96, 3) and model.output_shape == (None, 2)
    assert model.get_layer("block4_conv2").kernel.shape == (3, 3, 256, 256)


def test_p2_builders_train_both_sides_alike(torch):
    """P2's two steps (here on a small photo_cnn without dropout, batch 4): AdamW with the
    recipe's weight decay, ε and one-cycle rate, the label-smoothed cross-entropy, raw 0–255
    pixels and labels of the model's 2 classes on both sides, PyTorch starting from glassnet's
    weights; after one step of each, in either memory layout, the weights agree."""
    from benchmarks import compare
    from glassnet.applications import photo_cnn, photo_recipe

    def small():
        return photo_cnn((16, 16, 3), classes=2, filters=(4, 8), dropout=0.0)

    build = compare.glassnet_photo_training(small, 4)
    for layout in ("nchw", "channels_last"):
        step, macs = build()
        model = build.model
        assert macs > 0 and model.optimizer.weight_decay == photo_recipe.WEIGHT_DECAY
        twin = compare.torch_photo_training(4)
        torch_step = twin(model, layout)
        group = twin.optimizer.param_groups[0]
        assert (group["weight_decay"], group["eps"]) == (photo_recipe.WEIGHT_DECAY, 1e-7)
        step()
        torch_step()
        stem, theirs = model.get_layer("block1_conv1").kernel, twin.net[1].weight
        # The gradients (the loss, its label smoothing, the data), then the update (AdamW).
        grad = theirs.grad.numpy()
        np.testing.assert_allclose(
            stem.grad.transpose(3, 2, 0, 1), grad, atol=1e-4 * np.abs(grad).max()
        )
        np.testing.assert_allclose(
            stem.data.transpose(3, 2, 0, 1), theirs.detach().numpy(), atol=1e-6
        )
        np.testing.assert_allclose(
            model.get_layer("predictions").kernel.data.T,
            twin.net[-1].weight.detach().numpy(),
            atol=1e-6,
        )


# ----------------------------------------------------------------------------- profile
def test_profiler_timers_nest_per_thread():
    """A stage's time counts in the innermost timed stage; an op's own phase gets the rest;
    inside a sticky phase (normalization) a kernel takes that phase, except a barrier wait."""
    import time

    from benchmarks import profile

    profiler = profile.Profiler()
    gemm = profiler.timed(lambda: time.sleep(0.02), profile.GEMM)
    wait = profiler.timed(lambda: time.sleep(0.01), profile.WAIT, forced=True)

    def conv_forward():
        gemm()

    def norm_forward():
        gemm()
        wait()

    conv = profiler.timed(conv_forward, profile.CONV, op=("ConvOp", "forward"))
    norm = profiler.timed(norm_forward, profile.NORM, sticky=True, op=("BatchNormOp", "forward"))
    conv(), norm()
    (state,) = profiler.states
    assert state.phases[profile.GEMM] >= 0.02 and state.phases[profile.WAIT] >= 0.01
    assert state.phases[profile.NORM] >= 0.02  # the kernel called inside normalization
    assert 0 <= state.phases[profile.CONV] < 0.02
    conv_time, norm_time = state.ops[("ConvOp", "forward")], state.ops[("BatchNormOp", "forward")]
    assert conv_time.calls == norm_time.calls == 1
    assert set(conv_time.phases) == {profile.GEMM, profile.CONV}
    assert set(norm_time.phases) == {profile.NORM, profile.WAIT}
    assert conv_time.seconds == pytest.approx(sum(conv_time.phases.values()))
    assert state.stack == [] and state.frames == 5


def _phase_rows(text):
    """The phase table's (phase, thread-ms, share %) rows, total row excluded."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[2].endswith(" %") and cells[0] != "total":
            rows.append((cells[0], float(cells[1]), float(cells[2].removesuffix(" %"))))
    return rows


def test_profiler_reports_a_step_shared_over_cores():
    """A small CNN with batch normalization and dropout, profiled for a few replayed steps:
    every phase's share adds up to 100 %, "Python and the rest" is not negative, the ops are
    listed with their kernels, and afterwards the engine's functions are the originals."""
    from threadpoolctl import threadpool_limits

    import glassnet as gn
    from benchmarks import compare, profile
    from glassnet import layers as L
    from glassnet.models import replay
    from glassnet.ops import conv as conv_module
    from glassnet.ops.conv import ConvOp
    from glassnet.parallel import blas_threads, split_over_cores

    def small():
        return gn.Sequential(
            [
                L.Input((32, 32, 3)),
                L.Conv2D(32, 3, padding="same", use_bias=False),
                L.BatchNormalization(),
                L.ReLU(),
                L.MaxPooling2D(2),
                L.Flatten(),
                L.Dropout(0.5),
                L.Dense(10),
            ]
        )

    sgd = lambda: gn.optimizers.SGD(0.01, momentum=0.9)  # noqa: E731
    workload = compare.Workload(
        "S", "small CNN", 32, True, compare.glassnet_training(small, sgd, 32), None
    )
    forward, pad = ConvOp.forward, conv_module.pad_images
    with threadpool_limits(2):
        result = profile.profile_workload(
            workload, steps=2, warmup=3, block=1, min_seconds=0, stage_us=0.5
        )
        threads = min(blas_threads(), 2)
    assert result.threads == threads and result.steps == 2
    assert "replayed tape" in result.how
    assert all(ms >= 0 for ms in result.phases.values())
    assert sum(result.phases.values()) == pytest.approx(result.total)
    if threads == 2:
        assert result.phases[profile.WAIT] > 0  # batch statistics and dropout's draws
    ops = {(name, pass_): phases for name, pass_, _, _, phases in result.ops}
    assert {profile.GEMM, profile.UNFOLD} <= set(ops[("ConvOp", "forward")])
    assert profile.GEMM in ops[("ConvOp", "backward")]  # dW (the input wants no gradient)
    assert ("BatchNormOp", "backward") in ops and ("DropoutOp", "forward") in ops

    text = profile.format_profile(result, top=3)
    rows = _phase_rows(text)
    assert rows[-1][0] == profile.REST and rows[-1][1] >= 0
    assert sum(share for *_, share in rows) == pytest.approx(100, abs=0.05 * len(rows))
    assert "| total |" in text and "more |" in text and "overhead" in text
    assert ConvOp.forward is forward and conv_module.pad_images is pad
    assert replay.split_over_cores is split_over_cores


def test_profile_command_appends_its_report(tmp_path, capsys):
    """``python -m benchmarks.profile --only W1 ... --write FILE`` appends the machine, the
    command and W1's profile to FILE; an unknown workload or too few warm-up steps is an
    error that says what to give."""
    from threadpoolctl import threadpool_limits

    from benchmarks import profile

    out = tmp_path / "profile.md"
    out.write_text("# notes\n")
    argv = ["--only", "W1", "--steps", "2", "--warmup", "3", "--min-seconds", "0"]
    with threadpool_limits(None):  # the BLAS's threads as they were, afterwards
        text = profile.main([*argv, "--write", str(out)])
    written = out.read_text()
    assert written.startswith("# notes\n\n## Profile of glassnet's steps (")
    assert text in written and "- machine:" in text and "### W1:" in text
    assert "python -m benchmarks.profile --only W1" in text
    rows = _phase_rows(text)
    assert sum(share for *_, share in rows) == pytest.approx(100, abs=0.05 * len(rows))
    with pytest.raises(SystemExit):
        profile.main(["--only", "W9"])
    assert "unknown workload W9: choose from W1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        profile.main(["--only", "W1", "--warmup", "2"])
    assert "--warmup ≥ 3" in capsys.readouterr().err
