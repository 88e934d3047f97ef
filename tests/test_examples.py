"""Every example runs and reaches what it claims, on small data (the datasets are written here).

The examples are scripts, not a package, so each is imported from its path. Their ``main``
returns the numbers it prints; the tests assert on those, never on timing.
"""

from __future__ import annotations

import gzip
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

from tests.test_datasets import cifar_records, idx_bytes

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str):
    """Import ``examples/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_house_prices_recovers_the_blanks_within_one_percent(capsys):
    result = load_example("house_prices").main()
    for name, true in {"size": 90.3, "stories": 1006.2, "distance": -40.5}.items():
        assert result["true"][name] == true
        assert result["learnt"][name] == pytest.approx(true, rel=0.01)
    out = capsys.readouterr().out
    assert "1006.2" in out and "template" in out


def test_driving_test_learns_the_rule(capsys):
    result = load_example("driving_test").main()
    assert result["accuracy"] > 0.9  # always guessing the commoner answer gives about 0.55
    # The texts' two people: A (20, male, 10 lessons) fails, B (50, female, 20 lessons) passes.
    assert result["chance_a"] < 0.5 < result["chance_b"]
    assert result["hidden_weights"].shape == (3, 2)
    assert "neuron 2 = relu(" in capsys.readouterr().out


def test_autoencoder_error_drops(capsys):
    result = load_example("autoencoder").main(epochs=15)
    assert result["after"] < 0.25 * result["before"]
    assert result["after"] < result["average_image"]  # better than the laziest answer
    assert "reconstruction error after training" in capsys.readouterr().out


def test_digits_mlp_reaches_97_percent(capsys):
    result = load_example("digits_mlp").main()
    assert result["accuracy"] >= 0.97
    assert "Test accuracy" in capsys.readouterr().out


def test_functional_digits_answers_both_questions(capsys):
    result = load_example("functional_digits").main()
    assert result["digit_accuracy"] >= 0.95 and result["even_accuracy"] >= 0.95
    out = capsys.readouterr().out
    assert "Connected to" in out and "Test accuracy, even or odd" in out


def test_transfer_learning_freezes_the_base_and_learns_a_new_head(capsys, tmp_path):
    module = load_example("transfer_learning")
    result = module.main(base_epochs=10, finetune_epochs=30, save_dir=str(tmp_path / "base"))
    assert (tmp_path / "base" / "config.json").is_file()
    assert result["base_accuracy"] > 0.9
    assert result["accuracy"] > 0.6  # 5 new classes: guessing gives 0.2

    model, before = result["model"], result["frozen_before"]
    assert set(before) == {"conv_1", "conv_2"}
    for name, weights in before.items():
        layer = next(layer for layer in model.layers if layer.name == name)
        assert not layer.trainable
        for old, new in zip(weights, layer.get_weights(), strict=True):
            np.testing.assert_array_equal(old, new)  # bit for bit
    assert result["frozen_unchanged"] is True

    conv_params = (3 * 3 * 1 * 16 + 16) + (3 * 3 * 16 * 32 + 32)
    head_params = (128 * 64 + 64) + (64 * 5 + 5)
    assert result["non_trainable_params"] == conv_params
    assert result["trainable_params"] == head_params
    assert result["total_params"] == conv_params + head_params
    assert model.layers[-1].name == "head_5_to_9"
    assert "bit for bit: True" in capsys.readouterr().out


def write_tiny_mnist(folder: pathlib.Path, n_train: int = 64, n_test: int = 16) -> None:
    """Four gzipped IDX files of random 28×28 images: enough to run LeNet-5, not to learn."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))


def test_mnist_lenet_runs_on_tiny_idx_files(tmp_path, capsys):
    write_tiny_mnist(tmp_path)
    module = load_example("mnist_lenet")
    result = module.main(data=str(tmp_path), epochs=1, limit=48, save=str(tmp_path / "lenet"))
    assert len(result["accuracies"]) == 1
    assert 0.0 <= result["accuracy"] <= 1.0
    out = capsys.readouterr().out
    assert "48 training and 16 test images" in out
    assert "61,706 parameters" in out  # LeNet-5 as described: 156+2,416+48,120+10,164+850
    assert "test accuracy" in out
    assert (tmp_path / "lenet" / "config.json").is_file()


def test_mnist_lenet_reports_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing train-images-idx3-ubyte"):
        load_example("mnist_lenet").main(data=str(tmp_path), epochs=1, verbose=False)


def test_cifar10_cnn_runs_on_tiny_binary_files(tmp_path, capsys):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        (folder / name).write_bytes(cifar_records(images, rng.integers(0, 10, 4)))
    module = load_example("cifar10_cnn")
    result = module.main(data=str(tmp_path), epochs=1, limit=16)  # the parent folder works too
    assert len(result["accuracies"]) == 1
    assert 0.0 <= result["accuracy"] <= 1.0
    out = capsys.readouterr().out
    assert "16 training and 4 test photos" in out
    assert "1,116,970 parameters" in out
    assert "guess (truth)" in out


def test_transformer_text_reads_who_chased_whom(capsys, tmp_path):
    result = load_example("transformer_text").main(map_path=str(tmp_path / "attention.png"))
    assert result["accuracy"] >= 0.95  # the docstring's claim; a bag of words is at 50 %
    out = capsys.readouterr().out
    assert "test accuracy" in out and "attends most to" in out
    assert (tmp_path / "attention.png").stat().st_size > 0


def test_unet_segmentation_loss_falls_and_masks_overlap(capsys):
    unet = load_example("unet_segmentation")
    images, masks = unet.make_images(4, np.random.default_rng(0))
    assert images.shape == (4, 32, 32, 3) and masks.shape == (4, 32, 32, 1)
    assert set(np.unique(masks)) == {0.0, 1.0}
    result = unet.main(epochs=6, train=384, verbose=False)
    assert result["loss"][-1] < 0.2 * result["loss"][0]
    # Marking every pixel scores about 0.12; the trained U-Net finds the shapes' outlines.
    assert result["baseline"] < 0.2 and result["iou"] > 0.85
    skips = [layer for layer in result["model"].layers if type(layer).__name__ == "Concatenate"]
    assert len(skips) == 2


def test_timeseries_cnn_names_the_wave(capsys):
    waves = load_example("timeseries_cnn")
    x, kinds = waves.make_waves(6, np.random.default_rng(0))
    assert x.shape == (6, 128, 1) and set(kinds) <= {0, 1, 2}
    result = waves.main(epochs=5, train=600, verbose=False)
    assert result["loss"][-1] < 0.5 * result["loss"][0]
    assert result["accuracy"] >= 0.95  # chance is 1/3
    model = result["model"]
    assert [layer.dilation_rate for layer in model.layers[:4]] == [(1,), (2,), (4,), (8,)]
