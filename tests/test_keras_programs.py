"""Keras 3 programs in the style of the keras.io guides, with only the import changed
(``import glassnet as keras``): the functional API, several inputs and outputs, a toy ResNet,
feature extraction, custom layers and models, a custom train_step, callbacks, schedules,
regularization and weighting. Data is small and made here (or scikit-learn's digits)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as keras
from glassnet import layers


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_digits()
    return (data.data / 16.0).astype("float32"), data.target


def test_functional_api_guide_mnist_model(digits, tmp_path):
    """keras.io/guides/functional_api: "Training, evaluation, and inference"."""
    x, y = digits
    inputs = keras.Input(shape=(64,))
    dense = layers.Dense(64, activation="relu")
    x1 = dense(inputs)
    x1 = layers.Dense(64, activation="relu")(x1)
    outputs = layers.Dense(10)(x1)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert 'Model: "mnist_model"' in lines[0]
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.RMSprop(),
        metrics=["accuracy"],
    )
    history = model.fit(
        x[:1400], y[:1400], batch_size=64, epochs=8, validation_split=0.2, verbose=0
    )
    assert history.history["val_accuracy"][-1] > 0.8
    test_scores = model.evaluate(x[1400:], y[1400:], verbose=0)
    assert test_scores[1] > 0.8
    model.save(tmp_path / "my_model")
    del model
    model = keras.models.load_model(tmp_path / "my_model")
    assert model.evaluate(x[1400:], y[1400:], verbose=0) == pytest.approx(test_scores)


def test_functional_api_guide_ticket_model_with_three_inputs_and_two_outputs(tmp_path):
    """keras.io/guides/functional_api: "Models with multiple inputs and outputs"."""
    num_tags, num_words, num_departments = 12, 100, 4
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 16)(title_input)
    body_features = layers.Embedding(num_words, 16)(body_input)
    title_features = layers.LSTM(16)(title_features)
    body_features = layers.LSTM(8)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    model = keras.Model(
        inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred]
    )
    keras.utils.plot_model(model, tmp_path / "multi_input_and_output_model.png", show_shapes=True)
    assert (tmp_path / "multi_input_and_output_model.png").stat().st_size > 0
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={
            "priority": keras.losses.BinaryCrossentropy(from_logits=True),
            "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        loss_weights={"priority": 1.0, "department": 0.2},
    )
    rng = np.random.default_rng(0)
    title_data = rng.integers(0, num_words, size=(64, 10))
    body_data = rng.integers(0, num_words, size=(64, 20))
    tags_data = rng.integers(0, 2, size=(64, num_tags)).astype("float32")
    priority_targets = rng.random(size=(64, 1))
    dept_targets = keras.utils.to_categorical(rng.integers(0, num_departments, 64), 4)
    history = model.fit(
        {"title": title_data, "body": body_data, "tags": tags_data},
        {"priority": priority_targets, "department": dept_targets},
        epochs=3,
        batch_size=32,
        verbose=0,
    )
    assert set(history.history) == {"loss", "priority_loss", "department_loss"}
    priority, department = model.predict(
        {"title": title_data, "body": body_data, "tags": tags_data}
    )
    assert priority.shape == (64, 1) and department.shape == (64, 4)


def test_functional_api_guide_toy_resnet():
    """keras.io/guides/functional_api: "A toy ResNet model"."""
    inputs = keras.Input(shape=(16, 16, 3), name="img")
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(16, 3, activation="relu")(block_2_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs, name="toy_resnet")
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["acc"],
    )
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, (64, 16, 16, 3)).astype("float32") / 255.0
    y_train = keras.utils.to_categorical(rng.integers(0, 10, 64), 10)
    history = model.fit(x_train, y_train, batch_size=16, epochs=2, validation_split=0.25, verbose=0)
    assert "val_acc" in history.history
    config = model.get_config()
    clone = keras.Model.from_config(config)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]


def test_feature_extraction_with_intermediate_outputs():
    """keras.io/guides/functional_api: "Feature extraction"; the Sequential guide's
    ``keras.Model(inputs=initial_model.inputs, outputs=[layer.output for layer in ...])``."""
    initial_model = keras.Sequential(
        [
            keras.Input(shape=(25, 25, 3)),
            layers.Conv2D(8, 5, strides=2, activation="relu"),
            layers.Conv2D(8, 3, activation="relu", name="my_intermediate_layer"),
            layers.Conv2D(8, 3, activation="relu"),
        ]
    )
    feature_extractor = keras.Model(
        inputs=initial_model.inputs,
        outputs=[layer.output for layer in initial_model.layers],
    )
    features = feature_extractor(np.ones((1, 25, 25, 3), "float32"))
    assert [tuple(f.shape) for f in features] == [(1, 11, 11, 8), (1, 9, 9, 8), (1, 7, 7, 8)]
    one = keras.Model(
        inputs=initial_model.inputs,
        outputs=initial_model.get_layer(name="my_intermediate_layer").output,
    )
    assert one(np.ones((1, 25, 25, 3), "float32")).shape == (1, 9, 9, 8)


class Linear(keras.layers.Layer):
    """keras.io/guides/making_new_layers_and_models_via_subclassing."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return inputs @ self.w + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


def test_custom_layer_in_a_functional_model_saves_and_loads(tmp_path):
    inputs = keras.Input((4,))
    outputs = Linear(2)(layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(2).random((32, 4)).astype("float32")
    model.fit(x, x[:, :2], epochs=2, verbose=0)
    model.save(tmp_path / "custom")
    loaded = keras.models.load_model(tmp_path / "custom")
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


def test_subclassed_model_whose_call_takes_no_training_argument(digits):
    """keras.io's subclassing guide writes ``call(self, inputs)``."""

    class MLP(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense_1 = layers.Dense(32, activation="relu")
            self.dense_2 = layers.Dense(10)

        def call(self, inputs):
            return self.dense_2(self.dense_1(inputs))

    x, y = digits
    mlp = MLP()
    mlp.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    history = mlp.fit(x[:600], y[:600], epochs=3, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > history.history["accuracy"][0]
    assert mlp.output_shape == (None, 10)


def test_custom_train_step_from_the_keras_guide(digits):
    """keras.io/guides/custom_train_step_in_torch, with glassnet's Tensor in torch's place."""

    class CustomModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
            self.dense = layers.Dense(1)

        def call(self, inputs):
            return self.dense(inputs)

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = keras.losses.MeanSquaredError()(y, y_pred)
            loss.backward()
            trainable_weights = list(self.trainable_weights)
            gradients = [v.grad for v in trainable_weights]
            with keras.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            self.loss_tracker.update_state(loss.item())
            self.mae_metric.update_state(y, y_pred.numpy())
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    x, _ = digits
    y = x[:, :8].sum(axis=1, keepdims=True)
    model = CustomModel()
    model.compile(optimizer="adam")
    history = model.fit(x, y, epochs=5, verbose=0)
    assert list(history.history) == ["loss", "mae"]
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_callbacks_schedules_and_regularizers_from_the_training_guide(digits, tmp_path):
    """keras.io/guides/training_with_built_in_methods: schedules, callbacks, weighting."""
    x, y = digits
    inputs = keras.Input(shape=(64,), name="digits")
    h = layers.Dense(
        32,
        activation="relu",
        kernel_regularizer=keras.regularizers.l2(1e-4),
        kernel_constraint=keras.constraints.MaxNorm(3),
    )(inputs)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(h)
    model = keras.Model(inputs=inputs, outputs=outputs)
    lr_schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=1e-2, decay_steps=100, decay_rate=0.9, staircase=True
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr_schedule),
        loss="sparse_categorical_crossentropy",
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(),
            keras.metrics.SparseTopKCategoricalAccuracy(k=3),
        ],
    )
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-3, patience=2, verbose=0),
        keras.callbacks.ModelCheckpoint(filepath=str(tmp_path / "best"), save_best_only=True),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
    ]
    class_weight = {i: 1.0 for i in range(10)} | {5: 2.0}
    history = model.fit(
        x, y, batch_size=64, epochs=6, validation_split=0.2, callbacks=callbacks,
        class_weight=class_weight, verbose=0,
    )  # fmt: skip
    assert "val_sparse_top_k_categorical_accuracy" in history.history
    assert model.losses and float(model.losses[0].item()) > 0
    norms = np.sqrt((model.layers[1].kernel.numpy() ** 2).sum(axis=0))
    assert norms.max() <= 3.0 + 1e-5
    assert (tmp_path / "log.csv").exists() and keras.models.load_model(tmp_path / "best")


def test_reduce_lr_on_plateau_and_sample_weight():
    rng = np.random.default_rng(3)
    x = rng.random((64, 5)).astype("float32")
    y = x @ np.arange(5, dtype="float32")[:, None]
    model = keras.Sequential([keras.Input((5,)), layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate=1e-6), "mse")
    sample_weight = np.ones(64, "float32")
    sample_weight[:10] = 3.0
    reduce_lr = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=1, min_delta=10.0
    )
    history = model.fit(
        x, y, sample_weight=sample_weight, epochs=4, callbacks=[reduce_lr], verbose=0
    )
    assert history.history["learning_rate"][-1] < 1e-6


def test_to_json_and_model_from_json_and_weights():
    inputs = keras.Input(shape=(32,))
    outputs = layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    json_config = model.to_json()
    new_model = keras.models.model_from_json(json_config)
    new_model.set_weights(model.get_weights())
    x = np.ones((2, 32), "float32")
    np.testing.assert_array_equal(new_model.predict(x), model.predict(x))


def test_sequence_to_sequence_example_with_initial_state(tmp_path):
    """keras.io/examples/nlp/lstm_seq2seq: the encoder's states start the decoder (a keyword
    tensor, ``initial_state=``), and the inference models reuse the trained layers."""
    num_encoder_tokens, num_decoder_tokens, latent_dim = 5, 6, 8
    encoder_inputs = keras.Input(shape=(None, num_encoder_tokens))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    _encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = keras.Input(shape=(None, num_decoder_tokens))
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    encoder_input_data = np.eye(5, dtype="float32")[rng.integers(0, 5, (32, 7))]
    decoder_input_data = np.eye(6, dtype="float32")[rng.integers(0, 6, (32, 9))]
    history = model.fit(
        [encoder_input_data, decoder_input_data], decoder_input_data,
        batch_size=8, epochs=3, validation_split=0.25, verbose=0,
    )  # fmt: skip
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(entry.verified for entry in model._replays.values())  # it replays
    model.save(tmp_path / "s2s")
    loaded = keras.models.load_model(tmp_path / "s2s")
    data = [encoder_input_data[:4], decoder_input_data[:4]]
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))

    encoder_model = keras.Model(encoder_inputs, encoder_states)
    decoder_states_inputs = [keras.Input(shape=(latent_dim,)), keras.Input(shape=(latent_dim,))]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(
        decoder_inputs, initial_state=decoder_states_inputs
    )
    decoder_model = keras.Model(
        [decoder_inputs, *decoder_states_inputs],
        [decoder_dense(decoder_outputs), state_h_dec, state_c_dec],
    )
    states = encoder_model.predict(encoder_input_data[:2])
    output_tokens, h, c = decoder_model.predict([decoder_input_data[:2, :1], *states])
    assert output_tokens.shape == (2, 1, 6) and h.shape == c.shape == (2, latent_dim)
    # one step of the decoder model is the trained model's first step
    full = model.predict([encoder_input_data[:2], decoder_input_data[:2, :1]])
    np.testing.assert_allclose(output_tokens, full, rtol=1e-5, atol=1e-6)
