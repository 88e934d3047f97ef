"""The photo recipe's parts (glassnet/applications/photo_recipe.py): augmentation, optimizer
and schedule, loss, early stopping, test-time augmentation."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.applications import photo_recipe
from glassnet.optimizers.schedules import CosineDecay


def test_augmentation_layers_and_their_seeds():
    augment = photo_recipe.photo_augmentation(seed=10, crop=96)
    assert [type(layer).__name__ for layer in augment] == ["RandomCrop", "RandomFlip"]
    assert (augment[0].height, augment[0].width) == (96, 96) and augment[1].mode == "horizontal"
    assert [layer.seed for layer in augment] == [10, 11]
    assert photo_recipe.crop_size(photo_recipe.IMAGE_SIZE) == 96
    # For a pretrained network's fixed input: the size stays, the scale and colours vary.
    fixed = photo_recipe.photo_augmentation(seed=10)
    kinds = [type(layer).__name__ for layer in fixed]
    assert kinds == ["RandomResizedCrop", "RandomFlip", "RandomBrightness", "RandomContrast"]
    assert [layer.seed for layer in fixed] == [10, 11, 12, 13]
    assert fixed[2].value_range == (0.0, 255.0)
    assert all(layer.seed is None for layer in photo_recipe.photo_augmentation())


def test_optimizer_one_cycle_peaks_at_twice_the_default_rate():
    opt = photo_recipe.photo_optimizer("adamw", total_steps=40)
    assert isinstance(opt, gn.optimizers.AdamW) and opt.weight_decay == photo_recipe.WEIGHT_DECAY
    schedule = opt.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["warmup_target"] == pytest.approx(2e-3)
    assert schedule["config"]["warmup_steps"] + schedule["config"]["decay_steps"] == 40
    sgd = photo_recipe.photo_optimizer("sgd", total_steps=10, learning_rate=0.1)
    assert sgd.get_config()["learning_rate"]["config"]["warmup_target"] == pytest.approx(0.1)
    assert sgd.weight_decay is None  # only AdamW gets the recipe's decay


def test_optimizer_constant_schedule_keeps_a_number():
    assert photo_recipe.photo_optimizer("adam", 10, schedule="constant").learning_rate == 0.001
    assert photo_recipe.photo_optimizer("adam", 10, 0.01, "constant").learning_rate == 0.01
    with pytest.raises(ValueError, match=r"unknown schedule 'step'.*one-cycle, constant"):
        photo_recipe.photo_optimizer("adam", 10, schedule="step")


def test_loss_and_early_stopping():
    assert photo_recipe.photo_loss().label_smoothing == 0.1
    assert photo_recipe.photo_loss(0.0).label_smoothing == 0.0
    stop = photo_recipe.photo_early_stopping(15)
    assert (stop.patience, stop.monitor, stop.restore_best_weights) == (5, "val_accuracy", True)
    assert photo_recipe.photo_early_stopping(40).patience == 14  # a third, rounded up
    assert photo_recipe.photo_early_stopping(15).start_from_epoch == 7  # counted from halfway
    assert photo_recipe.photo_early_stopping(40, patience=2).patience == 2


def test_predict_with_flips_averages_the_image_and_its_mirror(rng):
    gn.set_seed(0)
    model = gn.Sequential(
        [layers.Input((4, 5, 2)), layers.Flatten(), layers.Dense(3, activation="softmax")]
    )
    x = rng.normal(size=(3, 4, 5, 2)).astype(np.float32)
    want = (model.predict(x) + model.predict(x[:, :, ::-1].copy())) / 2
    got = photo_recipe.predict_with_flips(model, x)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert not np.allclose(got, model.predict(x))  # a Dense layer sees the mirror differently


def test_schedule_is_a_cosine_decay_so_saved_models_keep_it(tmp_path):
    model = gn.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(photo_recipe.photo_optimizer("adamw", 20), photo_recipe.photo_loss())
    model.save(tmp_path / "m.glassnet")
    again = gn.load_model(tmp_path / "m.glassnet")
    assert isinstance(again.optimizer._learning_rate, CosineDecay)
    assert again.loss.label_smoothing == 0.1
