"""The glassnet command, driven through typer's CliRunner.

The end-to-end test draws a two-class image folder (circles vs squares, with noise, plus one
corrupt PNG and one text file), trains on it with ``glassnet train``, then scores a separate
test folder with ``glassnet evaluate`` and classifies images with ``glassnet predict``.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

import glassnet as gn
import glassnet.callbacks
from glassnet import layers
from glassnet.applications import photo_recipe
from glassnet.cli import app, build_classifier, per_class_scores

runner = CliRunner()


# ---------------------------------------------------------------------------- data
def draw_shapes(root: Path, per_class: int, size: int = 32, seed: int = 0) -> Path:
    """``root/circles`` and ``root/squares``: a light shape of random size, place and colour
    on a dark background, with Gaussian pixel noise."""
    rng = np.random.default_rng(seed)
    for name in ("circles", "squares"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            background = tuple(int(v) for v in rng.integers(0, 90, 3))
            image = Image.new("RGB", (size, size), background)
            radius = rng.uniform(0.22, 0.38) * size
            cx, cy = rng.uniform(radius + 1, size - radius - 1, 2)
            box = [cx - radius, cy - radius, cx + radius, cy + radius]
            fill = tuple(int(v) for v in rng.integers(150, 256, 3))
            draw = ImageDraw.Draw(image)
            (draw.ellipse if name == "circles" else draw.rectangle)(box, fill=fill)
            pixels = np.asarray(image, np.float32) + rng.normal(0, 12, (size, size, 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                root / name / f"{i:03d}.png"
            )
    return root


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    """120 circles and 120 squares, one corrupt (truncated) PNG and one text file."""
    root = draw_shapes(tmp_path_factory.mktemp("shapes") / "shapes", per_class=120)
    whole = (root / "circles" / "000.png").read_bytes()
    (root / "circles" / "broken.png").write_bytes(whole[: len(whole) // 2])
    (root / "squares" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def test_shapes(tmp_path_factory) -> Path:
    """A separate test folder, drawn with another seed."""
    return draw_shapes(tmp_path_factory.mktemp("test") / "test", per_class=40, seed=7)


@pytest.fixture(scope="module")
def trained(shapes, tmp_path_factory):
    """``glassnet train`` run once on the shapes; returns (model path, CliRunner result)."""
    out = tmp_path_factory.mktemp("models") / "shapes.glassnet"
    result = runner.invoke(
        app,
        [
            *("train", str(shapes), "--image-size", "32", "--epochs", "8"),
            *("--batch-size", "16", "--out", str(out), "--verbose", "2"),
        ],
    )
    assert result.exit_code == 0, result.output
    return out, result


# ---------------------------------------------------------------------------- end to end
def test_train_reports_the_corrupt_file_and_saves_a_loadable_model(trained):
    out, result = trained
    assert "broken.png" in result.output and "corrupt" in result.output  # the doctor's report
    assert "Readable images: 240 of 241 (1 skipped)" in result.output
    assert "notes.txt" in result.output
    assert "Epoch 8/8" in result.output
    accuracy = float(re.search(r"Final validation accuracy: (\d+\.\d+)%", result.output)[1])
    assert 0 <= accuracy <= 100
    model = gn.load_model(out)
    assert model.class_names == ["circles", "squares"]
    assert model.preprocessing["image_size"] == [32, 32]
    assert model.preprocessing["color_mode"] == "rgb"
    assert model.predict(np.zeros((1, 32, 32, 3), np.float32)).shape == (1, 2)
    with open(out.parent / "shapes.history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(8))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert (out.parent / "shapes.curves.png").stat().st_size > 0
    assert (out.parent / "shapes.glassnet.checkpoints" / "latest.json").exists()


def test_train_ends_with_the_saved_model_scored_on_the_held_out_images(trained):
    """How good the model is, honestly: the best model, on the share it never trained on, with
    the interval, per-class scores, the confusion matrix and the worst mistakes."""
    out, result = trained
    held_out = result.output.split("held-out images (never trained on):")[1]
    found = re.search(r"Accuracy: (\d+\.\d+)% \((\d+)/(\d+)\); 95% confidence interval "
                      r"(\d+\.\d)% to (\d+\.\d)%", held_out)  # fmt: skip
    assert found, held_out
    accuracy, correct, total, low, high = (float(g) for g in found.groups())
    # the default share of the 241 image files held out, less the corrupt one if it fell there
    held = int(241 * photo_recipe.VALIDATION_SPLIT)
    assert total in (held - 1, held) and low <= accuracy <= high
    assert (low, high) == tuple(
        round(100 * v, 1) for v in gn.metrics.accuracy_interval(int(correct), int(total))
    )
    assert "Per class:" in held_out and "Confusion matrix (row = true class" in held_out
    assert (out.parent / "shapes.confusion.png").stat().st_size > 0


def test_evaluate_reaches_95_percent_on_new_images(trained, test_shapes, tmp_path):
    out, _ = trained
    (test_shapes / "squares" / "bad.png").write_text("this is text, not a PNG")
    plot = tmp_path / "confusion.png"
    result = runner.invoke(app, ["evaluate", str(out), str(test_shapes), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    accuracy = float(re.search(r"Accuracy: (\d+\.\d+)% \((\d+)/80\)", result.output)[1])
    assert accuracy >= 95.0, result.output
    assert "95% confidence interval" in result.output
    assert "Skipped 1 unreadable file(s)" in result.output and "bad.png" in result.output
    assert re.search(r"circles\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+40", result.output)
    assert "Confusion matrix (row = true class" in result.output
    assert plot.stat().st_size > 0


def test_evaluate_lists_the_most_confidently_wrong_images(trained, tmp_path):
    out, _ = trained
    swapped = draw_shapes(tmp_path / "swapped", per_class=3, seed=3)
    (swapped / "circles").rename(swapped / "tmp")
    (swapped / "squares").rename(swapped / "circles")
    (swapped / "tmp").rename(swapped / "squares")  # every label is now wrong
    result = runner.invoke(app, ["evaluate", str(out), str(swapped), "--worst", "2"])
    assert result.exit_code == 0, result.output
    assert "Most confidently wrong (2 of" in result.output
    listed = re.findall(
        r"(\S+\.png)\s+(circles|squares)\s+(circles|squares)\s+(0\.\d+|1\.0+)", result.output
    )
    assert len(listed) == 2
    probabilities = [float(p) for *_, p in listed]
    assert probabilities == sorted(probabilities, reverse=True)
    assert (out.parent / "shapes.confusion.png").exists()  # the default place, next to the model


def test_predict_prints_top_classes_and_json(trained, test_shapes):
    out, _ = trained
    circle, square = test_shapes / "circles" / "000.png", test_shapes / "squares" / "000.png"
    result = runner.invoke(app, ["predict", str(out), str(circle), str(square)])
    assert result.exit_code == 0, result.output
    assert re.search(r"000\.png: circles \d+\.\d%, squares", result.output)
    result = runner.invoke(app, ["predict", str(out), str(circle), str(square), "--json"])
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)
    assert [a["image"] for a in answers] == [str(circle), str(square)]
    assert [a["predictions"][0]["class"] for a in answers] == ["circles", "squares"]
    for a in answers:
        assert len(a["predictions"]) == 2  # top-3 of two classes
        assert sum(p["probability"] for p in a["predictions"]) == pytest.approx(1, abs=1e-5)
    result = runner.invoke(app, ["predict", str(out), str(circle), "--json", "--top-k", "1"])
    assert len(json.loads(result.stdout)[0]["predictions"]) == 1


def test_predict_reports_an_unreadable_image_and_still_predicts_the_others(trained, tmp_path):
    out, _ = trained
    good = tmp_path / "good.png"
    Image.new("RGB", (50, 40), (200, 200, 200)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_text("<html>not an image</html>")
    result = runner.invoke(app, ["predict", str(out), str(bad), str(good), "--json"])
    assert result.exit_code == 1
    assert f"Error: cannot load image '{bad}'" in result.stderr
    answers = json.loads(result.stdout)
    assert "error" in answers[0] and "predictions" not in answers[0]
    assert len(answers[1]["predictions"]) == 2  # any size: the model stores how to resize
    result = runner.invoke(app, ["predict", str(out), str(tmp_path / "missing.png")])
    assert result.exit_code == 1 and "missing.png" in result.stderr
    assert "Traceback" not in result.output


def test_train_interrupted_then_resumed(shapes, tmp_path, monkeypatch):
    class CtrlCAfterFirstEpoch(glassnet.callbacks.CSVLogger):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    out = tmp_path / "run.glassnet"
    args = ["train", str(shapes), "--image-size", "24", "--epochs", "3", "--out", str(out)]
    with monkeypatch.context() as m:
        m.setattr(glassnet.callbacks, "CSVLogger", CtrlCAfterFirstEpoch)
        result = runner.invoke(app, [*args, "--verbose", "0"])
    assert result.exit_code == 130, result.output
    assert f"Epoch 1 is saved in {out}.checkpoints" in result.stderr
    command = result.stderr.strip().splitlines()[-1].strip()
    assert command.startswith("glassnet train") and command.endswith("--resume")
    words = shlex.split(command)[1:]
    assert words[words.index("--epochs") + 1] == "3"
    result = runner.invoke(app, [*words, "--verbose", "2"])
    assert result.exit_code == 0, result.output
    assert "Resuming from the last checkpoint" in result.output
    assert "Epoch 1/3" not in result.output and "Epoch 2/3" in result.output
    with open(tmp_path / "run.history.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1, 2]
    assert gn.load_model(out).class_names == ["circles", "squares"]
    # The one-cycle schedule went on from the restored step count, over the same 3 epochs:
    # the resumed run ends with the weights of a run never interrupted.
    resumed = gn.load_model(out.parent / "run.glassnet.checkpoints" / "epoch-0003.glassnet")
    schedule = resumed.optimizer.get_config()["learning_rate"]["config"]
    total = schedule["warmup_steps"] + schedule["decay_steps"]
    assert resumed.optimizer.iterations == total and total % 3 == 0  # 3 epochs of updates
    straight = tmp_path / "straight.glassnet"
    result = runner.invoke(app, [*args[:-1], str(straight), "--verbose", "0"])
    assert result.exit_code == 0, result.output
    whole = gn.load_model(tmp_path / "straight.glassnet.checkpoints" / "epoch-0003.glassnet")
    for key, value in whole.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value, err_msg=key)


def test_train_defaults_are_the_photo_recipe(trained):
    out, _ = trained
    model = gn.load_model(out)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert model.name == "photo_cnn" and kinds.count("Conv2D") == 8
    assert kinds[:2] == ["RandomCrop", "RandomFlip"]
    assert model.layers[0].height == round(32 * 6 / 7)  # the network sees a 27-pixel crop
    assert type(model.optimizer).__name__ == "AdamW" and model.optimizer.weight_decay == 0.05
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["warmup_target"] == pytest.approx(0.002)
    assert model.loss.get_config()["label_smoothing"] == 0.1


def test_train_old_defaults_stay_reachable(shapes, tmp_path):
    out = tmp_path / "old.glassnet"
    old = ["--model", "small-cnn", "--optimizer", "adam", "--schedule", "constant"]
    old += ["--label-smoothing", "0", "--no-augment", "--patience", "0"]
    args = ["train", str(shapes), "--image-size", "24", "--epochs", "2", "--out", str(out)]
    result = runner.invoke(app, [*args, *old, "--verbose", "0"])
    assert result.exit_code == 0, result.output
    model = gn.load_model(out)
    assert model.name == "small_cnn" and not model.layers[0].name.startswith("random")
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.learning_rate == 0.001
    assert model.loss.get_config()["label_smoothing"] == 0.0


def test_train_to_a_time_budget_plans_the_epochs_and_the_schedule(shapes, tmp_path):
    out = tmp_path / "budget.glassnet"
    args = ["train", str(shapes), "--image-size", "24", "--time-budget", "4s", "--out", str(out)]
    result = runner.invoke(app, [*args, "--patience", "0", "--verbose", "0", "--tta"])
    assert result.exit_code == 0, result.output
    planned = re.search(r"Time budget 4s: one epoch takes about .* so (\d+) epoch\(s\) are planned",
                        result.output)  # fmt: skip
    assert planned, result.output
    epochs = int(planned[1])
    assert f"\n{epochs} epoch(s) trained" in result.output
    assert "with test-time augmentation (flips) on the" in result.output
    latest = json.loads((tmp_path / "budget.glassnet.checkpoints" / "latest.json").read_text())
    last = gn.load_model(tmp_path / "budget.glassnet.checkpoints" / latest["checkpoint"])
    schedule = last.optimizer.get_config()["learning_rate"]["config"]
    assert last.optimizer.iterations == schedule["warmup_steps"] + schedule["decay_steps"]
    # A planned run cannot be continued by planning again: the printed command gives --epochs.
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 1 and "--time-budget plans a run from its start" in result.stderr


def test_train_refuses_a_time_budget_it_cannot_read(shapes):
    result = runner.invoke(app, ["train", str(shapes), "--time-budget", "soon"])
    assert result.exit_code == 1
    assert "cannot read the duration 'soon'" in result.stderr and "1h30m" in result.stderr


def test_evaluate_with_test_time_augmentation(trained, test_shapes):
    out, _ = trained
    result = runner.invoke(app, ["evaluate", str(out), str(test_shapes), "--tta"])
    assert result.exit_code == 0, result.output
    assert re.search(r"Accuracy: \d+\.\d+% \(\d+/\d+\)", result.output)


def test_check_prints_the_doctors_report(shapes):
    result = runner.invoke(app, ["check", str(shapes)])
    assert result.exit_code == 0, result.output
    assert "Dataset check:" in result.output and "circles" in result.output
    assert "broken.png" in result.output
    result = runner.invoke(app, ["check", str(shapes), "--strict"])
    assert result.exit_code == 1
    assert "broken.png" in result.output and "cannot be used for training" in result.stderr


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("command", ["train", "check", "evaluate"])
def test_a_missing_folder_is_one_line_and_exit_1(command, tmp_path):
    missing = tmp_path / "nowhere"
    args = [command, str(missing)] if command != "evaluate" else [command, "m", str(missing)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_corrupt_model_file_is_exit_1(tmp_path, trained):
    bad_zip = tmp_path / "model.zip"
    bad_zip.write_bytes(b"PK\x03\x04 truncated")
    result = runner.invoke(app, ["predict", str(bad_zip), "x.png"])
    assert result.exit_code == 1 and "nor a valid zip file" in result.stderr
    folder = tmp_path / "broken.glassnet"
    folder.mkdir()
    for name in ("config.json", "weights.safetensors"):
        (folder / name).write_bytes((trained[0] / name).read_bytes())
    (folder / "weights.safetensors").write_bytes(b"\x10\x00garbage")
    result = runner.invoke(app, ["evaluate", str(folder), str(tmp_path)])
    assert result.exit_code == 1 and "corrupt weights file" in result.stderr
    result = runner.invoke(app, ["predict", str(tmp_path / "nothing.glassnet"), "x.png"])
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_architecture_lists_the_known_ones(shapes):
    result = runner.invoke(app, ["summary", "resnet7"])
    assert result.exit_code == 1
    assert "not a known architecture" in result.stderr and "resnet18" in result.stderr
    result = runner.invoke(app, ["train", str(shapes), "--model", "inception9"])
    assert result.exit_code == 1
    assert "unknown architecture 'inception9'" in result.stderr and "small-cnn" in result.stderr


def test_images_of_the_wrong_size_for_a_model_without_resizing(tmp_path, test_shapes):
    gn.set_seed(0)
    model = gn.Sequential([layers.Input((16, 16, 3)), layers.Flatten(), layers.Dense(2)])
    model.save(tmp_path / "plain.glassnet")  # no preprocessing stored: no resizing
    image = test_shapes / "circles" / "001.png"  # 32×32
    result = runner.invoke(app, ["predict", str(tmp_path / "plain.glassnet"), str(image)])
    assert result.exit_code == 1
    assert "is 32×32 pixels but model" in result.stderr and "takes 16×16" in result.stderr
    result = runner.invoke(app, ["evaluate", str(tmp_path / "plain.glassnet"), str(test_shapes)])
    assert result.exit_code == 1 and "32×32 to 32×32 pixels" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["train"],  # DATA_DIR missing
        ["train", ".", "--epochs", "many"],
        ["train", ".", "--color-mode", "sepia"],
        ["train", ".", "--optimizer", "adagradd"],
        ["predict", "m"],  # no image
        ["summary", "vgg16", "--classes", "0"],
        ["evaluate", "--no-such-option"],
    ],
)
def test_usage_errors_exit_2(args):
    assert runner.invoke(app, args).exit_code == 2


def test_train_offers_every_optimizer_compile_takes():
    shown = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "300"}).output
    assert f"<{'|'.join(gn.optimizers.NAMES)}>" in shown
    assert {"adagrad", "adadelta", "adamax", "nadam", "lion"} <= set(gn.optimizers.NAMES)
    for name in gn.optimizers.NAMES:
        assert type(gn.optimizers.get(name.upper())).__name__.lower() == name


# ---------------------------------------------------------------------------- pieces
def test_demo_trains_reports_and_saves(tmp_path):
    out = tmp_path / "digits.glassnet"
    result = runner.invoke(app, ["demo", "--epochs", "4", "--out", str(out), "--verbose", "0"])
    assert result.exit_code == 0, result.output
    assert "(3·3·1 + 1)·16 = 160" in result.output  # the summary came first
    accuracy = float(re.search(r"accuracy (\d+\.\d+)%", result.output).group(1))
    assert accuracy > 85.0
    assert "Confusion matrix" in result.output
    model = gn.load_model(out)
    assert model.class_names == [str(d) for d in range(10)]
    assert (tmp_path / "digits.curves.png").stat().st_size > 0
    sample = tmp_path / "digits.sample.png"
    assert f"glassnet predict {out} {sample}" in result.output
    result = runner.invoke(app, ["predict", str(out), str(sample), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)[0]["predictions"]) == 3


def test_summary_of_a_saved_model_and_of_a_missing_one(tmp_path):
    runner.invoke(app, ["demo", "--epochs", "1", "--out", str(tmp_path / "m"), "--verbose", "0"])
    result = runner.invoke(app, ["summary", str(tmp_path / "m")])
    assert result.exit_code == 0 and "Total params: 38,282" in result.output
    result = runner.invoke(app, ["summary", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_summary_of_an_architecture():
    result = runner.invoke(app, ["summary", "LeNet5", "--input-shape", "28,28,1"])
    assert result.exit_code == 0, result.output
    assert "(None, 1000)" in result.output  # 1000 classes by default
    result = runner.invoke(
        app, ["summary", "lenet5", "--input-shape", "28,28,1", "--classes", "10"]
    )
    assert "Total params: 61,706" in result.output  # names ignore case
    result = runner.invoke(
        app, ["summary", "small_cnn", "--input-shape", "64,64,3", "--classes", "2"]
    )
    assert "Total params: 24,050" in result.output
    result = runner.invoke(app, ["summary", "vgg16", "--input-shape", "32,32"])
    assert result.exit_code == 1 and "input_shape" in result.stderr


def test_an_image_size_too_small_for_the_recipe_crop_says_what_to_do():
    with pytest.raises(ValueError, match=r"random 14×14 crop of each 16-pixel photo.*--no-augment"):
        build_classifier("photo-cnn", (16, 16, 3), 2, augment=True)
    assert build_classifier("photo-cnn", (16, 16, 3), 2).input_shape == (None, 16, 16, 3)


def test_build_classifier_puts_preprocessing_inside_the_model():
    model = build_classifier("lenet5", (28, 28, 1), 3, augment=True)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:3] == ["RandomCrop", "RandomFlip", "Rescaling"]
    assert model.compute_output_shape((None, 28, 28, 1)) == (None, 3)
    x = np.full((2, 28, 28, 1), 255.0, np.float32)
    assert np.allclose(model.predict(x), model.predict(x))  # augmentation is off at inference
    for name in ("small-cnn", "photo-cnn"):
        small = build_classifier(name, (32, 32, 3), 2)
        assert [type(layer).__name__ for layer in small.layers].count("Rescaling") == 1


def test_per_class_scores_from_a_confusion_matrix():
    matrix = np.array([[8, 2], [1, 9]])  # true circles: 8 right; true squares: 9 right
    precision, recall, f1, support = per_class_scores(matrix)
    assert np.allclose(precision, [8 / 9, 9 / 11])
    assert np.allclose(recall, [0.8, 0.9])
    assert np.allclose(f1, 2 * precision * recall / (precision + recall))
    assert support.tolist() == [10, 10]
    precision, recall, f1, _ = per_class_scores(np.array([[3, 0], [2, 0]]))
    assert precision[1] == recall[1] == f1[1] == 0.0  # never predicted, no division by zero


def test_version_and_help():
    assert runner.invoke(app, ["version"]).output.strip() == gn.__version__
    result = runner.invoke(app, ["--help"])
    for command in ("demo", "train", "evaluate", "predict", "summary", "check"):
        assert command in result.output
