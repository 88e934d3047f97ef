"""More Keras 3 programs, following keras.io examples and guides as they are written with only
the import changed (``import glassnet as keras``), for the layers of Keras's modern set:
attention, 1-D convolutions, separable and transposed convolutions, up-sampling, masks, the
preprocessing layers and MobileNetV2. Data is tiny and made here (or scikit-learn's digits),
and the sizes are shrunk so each program runs in seconds; the code is otherwise the example's."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as keras
from glassnet import layers, ops


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_digits()
    return (data.data / 16.0).astype("float32"), data.target


# keras.io/examples/nlp/text_classification_with_transformer
class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [
                layers.Dense(ff_dim, activation="relu"),
                layers.Dense(embed_dim),
            ]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = x.shape[-1]  # keras.ops.shape(x)[-1]: glassnet has no ops.shape (see report)
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def test_text_classification_with_transformer():
    """keras.io/examples/nlp/text_classification_with_transformer: a sequence is positive
    when token 1 occurs in it (a toy IMDB)."""
    vocab_size = 50  # Only consider the top 20k words (50 here)
    maxlen = 12  # Only consider the first 200 words of each movie review (12 here)
    rng = np.random.default_rng(0)
    # keras.datasets.imdb.load_data(num_words=vocab_size): reviews of 6 to 16 token ids
    reviews, labels = [], rng.integers(0, 2, 256)
    for label in labels:
        review = rng.integers(2, vocab_size, rng.integers(6, 17))
        if label:  # a positive review has token 1 among its last six
            review[-rng.integers(1, 7, 3)] = 1
        reviews.append(review)
    (x_train, y_train), (x_val, y_val) = (
        (reviews[:192], labels[:192]),
        (reviews[192:], labels[192:]),
    )
    x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)
    assert x_train.shape == (192, maxlen)

    embed_dim = 32  # Embedding size for each token
    num_heads = 2  # Number of attention heads
    ff_dim = 32  # Hidden layer size in feed forward network inside transformer

    inputs = layers.Input(shape=(maxlen,))
    embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
    x = transformer_block(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)

    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=12, validation_data=(x_val, y_val), verbose=0
    )
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.8


def test_timeseries_classification_from_scratch(tmp_path):
    """keras.io/examples/timeseries/timeseries_classification_from_scratch: a fully
    convolutional network on univariate series (here: a sine or a square wave, noisy)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 4 * np.pi, 32)
    y_all = rng.integers(0, 2, 160)
    phase = rng.random((160, 1)) * 2 * np.pi
    wave = np.where(y_all[:, None] == 0, np.sin(t + phase), np.sign(np.sin(t + phase)))
    x_all = (wave + 0.3 * rng.standard_normal(wave.shape)).astype("float32")
    x_train, y_train, x_test, y_test = x_all[:128], y_all[:128], x_all[128:], y_all[128:]

    x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
    x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))
    num_classes = len(np.unique(y_train))
    idx = np.random.permutation(len(x_train))  # noqa: NPY002 - as the example
    x_train = x_train[idx]
    y_train = y_train[idx]

    def make_model(input_shape):
        input_layer = keras.layers.Input(input_shape)

        conv1 = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(input_layer)
        conv1 = keras.layers.BatchNormalization()(conv1)
        conv1 = keras.layers.ReLU()(conv1)

        conv2 = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(conv1)
        conv2 = keras.layers.BatchNormalization()(conv2)
        conv2 = keras.layers.ReLU()(conv2)

        conv3 = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(conv2)
        conv3 = keras.layers.BatchNormalization()(conv3)
        conv3 = keras.layers.ReLU()(conv3)

        gap = keras.layers.GlobalAveragePooling1D()(conv3)

        output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

        return keras.models.Model(inputs=input_layer, outputs=output_layer)

    model = make_model(input_shape=x_train.shape[1:])
    epochs = 15  # 500 in the example
    batch_size = 32

    callbacks = [
        keras.callbacks.ModelCheckpoint(
            str(tmp_path / "best_model.keras"), save_best_only=True, monitor="val_loss"
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001
        ),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=0),
    ]
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        callbacks=callbacks,
        validation_split=0.2,
        verbose=0,
    )
    assert history.history["loss"][-1] < history.history["loss"][0]

    model = keras.models.load_model(str(tmp_path / "best_model.keras"))
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)  # noqa: RUF059
    assert test_acc > 0.8
    assert model.output_shape == (None, 2)


def test_image_segmentation_with_a_unet_like_architecture():
    """keras.io/examples/vision/oxford_pets_image_segmentation: the U-Net-like model
    (SeparableConv2D, Conv2DTranspose, UpSampling2D and residuals), with 1/8 of the filters
    on 32×32 images; the masks are "a bright square over a dark background"."""

    def get_model(img_size, num_classes):
        inputs = keras.Input(shape=img_size + (3,))  # noqa: RUF005 - as the example

        ### [First half of the network: downsampling inputs] ###

        # Entry block
        x = layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)

        previous_block_activation = x  # Set aside residual

        # Blocks 1, 2, 3 are identical apart from the feature depth.
        for filters in [8, 16, 32]:
            x = layers.Activation("relu")(x)
            x = layers.SeparableConv2D(filters, 3, padding="same")(x)
            x = layers.BatchNormalization()(x)

            x = layers.Activation("relu")(x)
            x = layers.SeparableConv2D(filters, 3, padding="same")(x)
            x = layers.BatchNormalization()(x)

            x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

            # Project residual
            residual = layers.Conv2D(filters, 1, strides=2, padding="same")(
                previous_block_activation
            )
            x = layers.add([x, residual])  # Add back residual
            previous_block_activation = x  # Set aside next residual

        ### [Second half of the network: upsampling inputs] ###

        for filters in [32, 16, 8, 4]:
            x = layers.Activation("relu")(x)
            x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
            x = layers.BatchNormalization()(x)

            x = layers.Activation("relu")(x)
            x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
            x = layers.BatchNormalization()(x)

            x = layers.UpSampling2D(2)(x)

            # Project residual
            residual = layers.UpSampling2D(2)(previous_block_activation)
            residual = layers.Conv2D(filters, 1, padding="same")(residual)
            x = layers.add([x, residual])  # Add back residual
            previous_block_activation = x  # Set aside next residual

        # Add a per-pixel classification layer
        outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)

        # Define the model
        model = keras.Model(inputs, outputs)
        return model

    img_size = (32, 32)
    num_classes = 3
    model = get_model(img_size, num_classes)
    assert model.output_shape == (None, 32, 32, 3)

    rng = np.random.default_rng(0)
    input_imgs = rng.random((32, 32, 32, 3)).astype("float32") * 0.2
    targets = np.zeros((32, 32, 32, 1), "uint8")
    for i, (top, left) in enumerate(rng.integers(4, 20, (32, 2))):
        input_imgs[i, top : top + 8, left : left + 8] += 0.8
        targets[i, top : top + 8, left : left + 8] = 1

    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    history = model.fit(input_imgs, targets, epochs=15, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    val_preds = model.predict(input_imgs[:4], verbose=0)
    mask = np.argmax(val_preds, axis=-1)
    assert mask.shape == (4, 32, 32)
    assert (mask == targets[:4, ..., 0]).mean() > 0.85


def test_convolutional_autoencoder_for_image_denoising(digits):
    """keras.io/examples/vision/autoencoder: Conv2DTranspose with strides 2 undoes two
    MaxPooling2D, on 8×8 digits instead of 28×28 MNIST (8 filters instead of 32)."""
    x, _ = digits

    def noise(array):
        """Adds random noise to each image in the supplied array."""
        noise_factor = 0.4
        noisy_array = array + noise_factor * np.random.normal(  # noqa: NPY002 - the example's
            loc=0.0, scale=1.0, size=array.shape
        )
        return np.clip(noisy_array, 0.0, 1.0)

    train_data = x[:600].reshape(-1, 8, 8, 1)
    test_data = x[1500:].reshape(-1, 8, 8, 1)
    noisy_train_data = noise(train_data).astype("float32")
    noisy_test_data = noise(test_data).astype("float32")

    input = layers.Input(shape=(8, 8, 1))

    # Encoder
    x = layers.Conv2D(8, (3, 3), activation="relu", padding="same")(input)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(8, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)

    # Decoder
    x = layers.Conv2DTranspose(8, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(8, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)

    # Autoencoder
    autoencoder = keras.Model(input, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    lines: list[str] = []
    autoencoder.summary(print_fn=lines.append)
    assert any("Conv2DTranspose" in line for line in lines)
    assert autoencoder.output_shape == (None, 8, 8, 1)

    history = autoencoder.fit(
        x=noisy_train_data,
        y=train_data,
        epochs=15,
        batch_size=64,
        shuffle=True,
        validation_data=(noisy_test_data, test_data),
        verbose=0,
    )
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    predictions = autoencoder.predict(noisy_test_data, verbose=0)
    # the denoised images are closer to the clean ones than the noisy inputs are
    assert np.abs(predictions - test_data).mean() < np.abs(noisy_test_data - test_data).mean()


def _reviews(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    good = ["great", "wonderful", "superb", "moving", "brilliant"]
    bad = ["awful", "boring", "dull", "terrible", "clumsy"]
    filler = ["the", "film", "plot", "a", "was", "and", "acting", "story", "it", "quite"]
    labels = rng.integers(0, 2, n)
    texts = []
    for label in labels:
        words = list(rng.choice(filler, 7)) + list(rng.choice(good if label else bad, 3))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + "!")
    return texts, labels


def test_text_classification_from_scratch():
    """keras.io/examples/nlp/text_classification_from_scratch: TextVectorization adapted on
    a dataset of raw strings, Embedding + Conv1D + GlobalMaxPooling1D trained on a dataset of
    batches, then an end-to-end model that takes strings. The datasets are lists of
    (texts, labels) batches, what ``text_dataset_from_directory(batch_size=32)`` yields."""
    rng = np.random.default_rng(0)
    batch_size = 32
    raw_train_ds = [(np.array(t), y) for t, y in (_reviews(batch_size, rng) for _ in range(8))]
    raw_test_ds = [(np.array(t), y) for t, y in (_reviews(batch_size, rng) for _ in range(2))]

    # Model constants.
    max_features = 200  # 20000 in the example
    embedding_dim = 16  # 128
    sequence_length = 30  # 500

    # The example standardizes with its own function of tf.strings (lowercase, strip <br />
    # and punctuation); the default standardization, lowercase and strip punctuation, is it
    # without the HTML.
    vectorize_layer = keras.layers.TextVectorization(
        max_tokens=max_features,
        output_mode="int",
        output_sequence_length=sequence_length,
    )

    # Now that the vectorize_layer has been created, call `adapt` on a text-only
    # dataset to create the vocabulary. You don't have to batch, but for very large
    # datasets this means you're not keeping spare copies of the dataset in memory.

    # Let's make a text-only dataset (no labels):
    text_ds = (x for x, y in raw_train_ds)  # raw_train_ds.map(lambda x, y: x)
    # Let's call `adapt`:
    vectorize_layer.adapt(text_ds)
    assert vectorize_layer.get_vocabulary()[:2] == ["", "[UNK]"]

    def vectorize_text(text, label):
        text = np.expand_dims(text, -1)  # tf.expand_dims(text, -1)
        return vectorize_layer(text), label

    # Vectorize the data.
    train_ds = [vectorize_text(x, y) for x, y in raw_train_ds]  # raw_train_ds.map(vectorize_text)
    test_ds = [vectorize_text(x, y) for x, y in raw_test_ds]
    assert train_ds[0][0].shape == (batch_size, sequence_length)

    # A integer input for vocab indices.
    inputs = keras.Input(shape=(None,), dtype="int64")

    # Next, we add a layer to map those vocab indices into a space of dimensionality
    # 'embedding_dim'.
    x = layers.Embedding(max_features, embedding_dim)(inputs)
    x = layers.Dropout(0.5)(x)

    # Conv1D + global max pooling (16 filters instead of 128)
    x = layers.Conv1D(16, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(16, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.GlobalMaxPooling1D()(x)

    # We add a vanilla hidden layer:
    x = layers.Dense(16, activation="relu")(x)
    x = layers.Dropout(0.5)(x)

    # We project onto a single unit output layer, and squash it with a sigmoid:
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

    model = keras.Model(inputs, predictions)

    # Compile the model with binary crossentropy loss and an adam optimizer.
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    epochs = 20  # 3 in the example, on 20,000 reviews

    # Fit the model using the train and test datasets.
    model.fit(train_ds, validation_data=test_ds, epochs=epochs, verbose=0)
    assert model.evaluate(test_ds, verbose=0)[1] > 0.85

    # A string input
    inputs = keras.Input(shape=(1,), dtype="string")
    # Turn strings into vocab indices
    indices = vectorize_layer(inputs)
    # Turn vocab indices into predictions
    outputs = model(indices)

    # Our end to end model
    end_to_end_model = keras.Model(inputs, outputs)
    end_to_end_model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

    # Test it with `raw_test_ds`, which yields raw strings
    # (as a column: the model's input is (None, 1) strings; Keras also takes the flat batch)
    raw_test_columns = [(np.expand_dims(x, -1), y) for x, y in raw_test_ds]
    assert end_to_end_model.evaluate(raw_test_columns, verbose=0)[1] > 0.85
    np.testing.assert_allclose(
        end_to_end_model.predict(raw_test_columns[0][0], verbose=0),
        model.predict(test_ds[0][0], verbose=0),
        rtol=1e-6,
    )


def test_structured_data_classification_from_scratch():
    """keras.io/examples/structured_data/structured_data_classification_from_scratch (the
    version with preprocessing layers): Normalization, StringLookup and IntegerLookup adapted
    on each feature, fed by a dict of named inputs of several dtypes. The datasets are lists
    of (features, target) batches of 32, what ``tf.data``'s ``.batch(32)`` yields."""
    rng = np.random.default_rng(0)
    n = 240
    dataframe = {
        "sex": rng.integers(0, 2, n),
        "thal": rng.choice(["fixed", "normal", "reversible"], n),
        "age": rng.normal(54, 9, n).round(),
        "thalach": rng.normal(150, 22, n).round(),
    }
    target = (
        (dataframe["thal"] == "reversible") | ((dataframe["age"] > 60) & (dataframe["sex"] == 1))
    ).astype("int64")

    def dataframe_to_dataset(rows):
        # tf.data.Dataset.from_tensor_slices((dict(dataframe), labels)).batch(32), the
        # features as columns (the example expands each feature's dims while adapting)
        return [
            (
                {name: column[i : i + 32, None] for name, column in dataframe.items()},
                target[i : i + 32],
            )
            for i in range(rows.start, rows.stop, 32)
        ]

    train_ds = dataframe_to_dataset(range(0, 192))
    val_ds = dataframe_to_dataset(range(192, 240))

    def encode_numerical_feature(feature, name, dataset):
        # Create a Normalization layer for our feature
        normalizer = layers.Normalization()

        # Prepare a Dataset that only yields our feature
        feature_ds = (x[name] for x, y in dataset)  # dataset.map(lambda x, y: x[name])

        # Learn the statistics of the data
        normalizer.adapt(feature_ds)

        # Normalize the input feature
        encoded_feature = normalizer(feature)
        return encoded_feature

    def encode_categorical_feature(feature, name, dataset, is_string):
        lookup_class = layers.StringLookup if is_string else layers.IntegerLookup
        # Create a lookup layer which will turn strings into integer indices
        lookup = lookup_class(output_mode="multi_hot")  # tf.keras's "binary", Keras 3's name

        # Prepare a Dataset that only yields our feature
        feature_ds = (x[name] for x, y in dataset)

        # Learn the set of possible string values and assign them a fixed integer index
        lookup.adapt(feature_ds)

        # Turn the string input into integer indices
        encoded_feature = lookup(feature)
        return encoded_feature

    # Categorical features encoded as integers
    sex = keras.Input(shape=(1,), name="sex", dtype="int64")

    # Categorical feature encoded as string
    thal = keras.Input(shape=(1,), name="thal", dtype="string")

    # Numerical features
    age = keras.Input(shape=(1,), name="age")
    thalach = keras.Input(shape=(1,), name="thalach")

    all_inputs = [sex, thal, age, thalach]

    # Integer categorical features
    sex_encoded = encode_categorical_feature(sex, "sex", train_ds, False)

    # String categorical features
    thal_encoded = encode_categorical_feature(thal, "thal", train_ds, True)

    # Numerical features
    age_encoded = encode_numerical_feature(age, "age", train_ds)
    thalach_encoded = encode_numerical_feature(thalach, "thalach", train_ds)

    all_features = layers.concatenate([sex_encoded, thal_encoded, age_encoded, thalach_encoded])
    x = layers.Dense(32, activation="relu")(all_features)
    x = layers.Dropout(0.5)(x)
    output = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(all_inputs, output)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    assert model.output_shape == (None, 1)

    history = model.fit(train_ds, epochs=30, validation_data=val_ds, verbose=0)  # 50 epochs
    assert history.history["val_accuracy"][-1] > 0.8

    sample = {"sex": 1, "thal": "fixed", "age": 70, "thalach": 112}
    # {name: tf.convert_to_tensor([value]) ...}: here a (1, 1) column per feature
    input_dict = {name: np.asarray([[value]]) for name, value in sample.items()}
    predictions = model.predict(input_dict, verbose=0)
    assert predictions.shape == (1, 1) and predictions[0, 0] > 0.5


def test_working_with_preprocessing_layers_guide():
    """keras.io/guides/preprocessing_layers: the snippets and the outputs the guide prints."""
    # The adapt() method
    data = np.array([[0.1, 0.2, 0.3], [0.8, 0.9, 1.0], [1.5, 1.6, 1.7]])
    layer = layers.Normalization()
    layer.adapt(data)
    normalized_data = layer(data)
    assert abs(normalized_data.numpy().mean()) < 0.005  # the guide prints "-0.00"
    assert f"{normalized_data.numpy().std():.2f}" == "1.00"

    data = [
        "ξεῖν᾽, ἦ τοι μὲν ὄνειροι ἀμήχανοι ἀκριτόμυθοι",
        "γίγνοντ᾽, οὐδέ τι πάντα τελείεται ἀνθρώποισι.",
        "δοιαὶ γάρ τε πύλαι ἀμενηνῶν εἰσὶν ὀνείρων:",
        "αἱ μὲν γὰρ κεράεσσι τετεύχαται, αἱ δ᾽ ἐλέφαντι:",
        "τῶν οἳ μέν κ᾽ ἔλθωσι διὰ πριστοῦ ἐλέφαντος,",
        "οἵ ῥ᾽ ἐλεφαίρονται, ἔπε᾽ ἀκράαντα φέροντες:",
        "οἱ δὲ διὰ ξεστῶν κεράων ἔλθωσι θύραζε,",
        "οἵ ῥ᾽ ἔτυμα κραίνουσι, βροτῶν ὅτε κέν τις ἴδηται.",
    ]
    layer = layers.TextVectorization()
    layer.adapt(data)
    vectorized_text = layer(data)
    assert vectorized_text.shape == (8, 9)  # as the guide prints it
    # "αἱ" is the first and sixth word of the fourth line
    vocabulary = layer.get_vocabulary()
    row = vectorized_text.numpy()[3]
    assert row[0] == row[5] == vocabulary.index("αἱ")
    assert row[-1] == 0  # padding

    # Passing a vocabulary instead of adapting
    vocab = ["a", "b", "c", "d"]
    data = np.array([["a", "c", "d"], ["d", "z", "b"]])
    layer = layers.StringLookup(vocabulary=vocab)
    vectorized_data = layer(data)
    np.testing.assert_array_equal(vectorized_data, [[1, 3, 4], [4, 0, 2]])

    # Encoding string categorical features via one-hot encoding
    vocab = ["a", "b", "c"]
    lookup = layers.StringLookup(vocabulary=vocab, output_mode="one_hot")
    test_data = np.array([["a"], ["b"], ["c"], ["d"], ["e"], [""]])
    encoded_data = lookup(test_data)
    np.testing.assert_array_equal(
        encoded_data, [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [1, 0, 0, 0],
                       [1, 0, 0, 0]],
    )  # fmt: skip

    # Encoding integer categorical features via one-hot encoding
    data = np.array([[10], [20], [20], [10], [30], [0]])
    lookup = layers.IntegerLookup(output_mode="one_hot")
    lookup.adapt(data)
    test_data = np.array([[10], [10], [20], [50], [60], [0]])
    encoded_data = lookup(test_data)
    np.testing.assert_array_equal(
        encoded_data, [[0, 0, 1, 0, 0], [0, 0, 1, 0, 0], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0],
                       [1, 0, 0, 0, 0], [0, 0, 0, 0, 1]],
    )  # fmt: skip

    # CategoryEncoding on integers already in [0, num_tokens)
    encoder = layers.CategoryEncoding(num_tokens=4, output_mode="multi_hot")
    np.testing.assert_array_equal(encoder([[0, 1], [0, 0], [1, 2], [3, 1]]), [
        [1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])  # fmt: skip

    # Discretization into buckets
    layer = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    np.testing.assert_array_equal(layer([[-1.5, 1.0, 3.4, 0.5]]), [[0, 2, 3, 1]])

    # Encoding text as a dense matrix of N-grams with multi-hot encoding
    adapt_data = np.array(
        [
            "The Brain is wider than the Sky",
            "For put them side by side",
            "The one the other will contain",
            "With ease and You beside",
        ]
    )
    text_vectorizer = layers.TextVectorization(output_mode="multi_hot", ngrams=2)
    text_vectorizer.adapt(adapt_data)
    inputs = keras.Input(shape=(text_vectorizer.vocabulary_size(),))
    outputs = layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    test_data = np.array(["The Brain is deeper than the sea"])
    encoded = text_vectorizer(test_data).numpy()
    vocabulary = text_vectorizer.get_vocabulary()
    assert encoded.shape == (1, len(vocabulary))
    assert encoded[0, vocabulary.index("the brain")] == 1
    assert encoded[0, vocabulary.index("[UNK]")] == 1  # "deeper", "sea", their bigrams
    assert model(encoded).shape == (1, 1)

    # Encoding text as a dense matrix of N-grams with TF-IDF weighting
    text_vectorizer = layers.TextVectorization(output_mode="tf_idf", ngrams=2)
    text_vectorizer.adapt(adapt_data)
    weights = text_vectorizer(test_data).numpy()
    vocabulary = text_vectorizer.get_vocabulary()
    # "the" is in three of four lines, "brain" in one: the rarer word weighs more
    assert weights[0, vocabulary.index("brain")] > weights[0, vocabulary.index("is")] / 2 > 0


# keras.io/guides/understanding_masking_and_padding
class MyActivation(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Signal that the layer is safe for mask propagation
        self.supports_masking = True

    def call(self, inputs):
        return ops.relu(inputs)


class TemporalSplit(keras.layers.Layer):
    """Split the input tensor into 2 tensors along the time dimension."""

    def call(self, inputs):
        # Expect the input to be 3D and mask to be 2D, split the input tensor into 2
        # subtensors along the time axis (axis 1).
        half = inputs.shape[1] // 2  # ops.split(inputs, 2, axis=1): glassnet has no ops.split
        return [inputs[:, :half], inputs[:, half:]]

    def compute_mask(self, inputs, mask=None):
        # Also split the mask into 2 if it presents.
        if mask is None:
            return None
        half = mask.shape[1] // 2  # ops.split(mask, 2, axis=1)
        return [mask[:, :half], mask[:, half:]]


class CustomEmbedding(keras.layers.Layer):
    def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.mask_zero = mask_zero

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer="random_normal",
            dtype="float32",
        )

    def call(self, inputs):
        inputs = ops.cast(inputs, "int32")
        # ops.take(self.embeddings, inputs): glassnet's row gather is embedding_lookup
        return ops.embedding_lookup(self.embeddings, inputs)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)


class TemporalSoftmax(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
        inputs_exp = ops.exp(inputs) * broadcast_float_mask
        inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
        return inputs_exp / inputs_sum


def test_masking_and_padding_guide():
    """keras.io/guides/understanding_masking_and_padding: pad_sequences, Embedding's mask,
    a mask passed explicitly inside a subclassed layer, supports_masking on a custom layer,
    and a custom layer whose call takes the mask."""
    raw_inputs = [
        [711, 632, 71],
        [73, 8, 3215, 55, 927],
        [83, 91, 1, 645, 1253, 927],
    ]
    padded_inputs = keras.utils.pad_sequences(raw_inputs, padding="post")
    np.testing.assert_array_equal(
        padded_inputs,
        [[711, 632, 71, 0, 0, 0], [73, 8, 3215, 55, 927, 0], [83, 91, 1, 645, 1253, 927]],
    )

    embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
    masked_output = embedding(padded_inputs)
    np.testing.assert_array_equal(masked_output._keras_mask, padded_inputs != 0)

    masking_layer = layers.Masking()
    # Simulate the embedding lookup by expanding the 2D input to 3D,
    # with embedding dimension of 10.
    unmasked_embedding = ops.cast(
        np.tile(np.expand_dims(padded_inputs, axis=-1), [1, 1, 10]),  # ops.tile, ops.expand_dims
        "float32",
    )
    masked_embedding = masking_layer(unmasked_embedding)
    np.testing.assert_array_equal(masked_embedding._keras_mask, padded_inputs != 0)

    # Mask propagation in the Functional API and Sequential API
    model = keras.Sequential(
        [
            layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True),
            layers.LSTM(32),
        ]
    )
    # the padded steps change nothing: the LSTM stops at each sequence's last real step
    one = model.predict(np.array([[711, 632, 71]]), verbose=0)
    np.testing.assert_allclose(model.predict(padded_inputs, verbose=0)[0], one[0], rtol=1e-5)

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    outputs = layers.LSTM(32)(x)
    model = keras.Model(inputs, outputs)
    assert model.output_shape == (None, 32)

    # Passing mask tensors directly to layers
    class MyLayer(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
            self.lstm = layers.LSTM(32)

        def call(self, inputs):
            x = self.embedding(inputs)
            # Note that you could also prepare a `mask` tensor manually.
            # It only needs to be a boolean tensor
            # with the right shape, i.e. (batch_size, timesteps).
            mask = self.embedding.compute_mask(inputs)
            output = self.lstm(x, mask=mask)  # The layer will ignore the masked values
            return output

    layer = MyLayer()
    x = np.random.random((32, 10)) * 100  # noqa: NPY002 - as the example
    x = x.astype("int32")
    assert layer(x).shape == (32, 32)

    # Supporting masking in your custom layers
    first_half, second_half = TemporalSplit()(masked_embedding)
    np.testing.assert_array_equal(first_half._keras_mask, padded_inputs[:, :3] != 0)
    np.testing.assert_array_equal(second_half._keras_mask, padded_inputs[:, 3:] != 0)

    layer = CustomEmbedding(10, 32, mask_zero=True)
    x = np.random.random((3, 10)) * 9  # noqa: NPY002 - as the example
    x = x.astype("int32")
    y = layer(x)
    mask = layer.compute_mask(x)
    np.testing.assert_array_equal(mask, x != 0)
    np.testing.assert_array_equal(y._keras_mask, x != 0)  # the output carries it
    assert y.shape == (3, 10, 32)

    # Opting-in to mask propagation on compatible layers
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    x = MyActivation()(x)  # Will pass the mask along
    outputs = layers.LSTM(32)(x)  # Will receive the mask
    model = keras.Model(inputs, outputs)
    np.testing.assert_allclose(
        model.predict(padded_inputs, verbose=0)[0],
        model.predict(np.array([[711, 632, 71]]), verbose=0)[0],
        rtol=1e-5,
    )

    # Writing layers that need mask information
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
    x = layers.Dense(1)(x)
    outputs = TemporalSoftmax()(x)
    model = keras.Model(inputs, outputs)
    ids = np.random.randint(0, 10, size=(32, 100))  # noqa: NPY002 - as the example
    with np.errstate(invalid="ignore"):  # the guide divides 0 by 0 at padded steps (NaN there)
        y = model(ids)
    assert y.shape == (32, 100, 1)
    np.testing.assert_allclose(y.numpy()[ids != 0], 1.0, rtol=1e-6)  # softmax over one unit
    assert np.isnan(y.numpy()[ids == 0]).all()


# keras.io/guides/making_new_layers_and_models_via_subclassing
class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


class ActivityRegularizationLayer(keras.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


class CustomDropout(keras.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        # keras.random.SeedGenerator(1337): glassnet's ops take a NumPy generator (see report)
        self.seed_generator = np.random.default_rng(1337)

    def call(self, inputs, training=None):
        if training:
            return ops.dropout(inputs, rate=self.rate, rng=self.seed_generator)
        return inputs


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = np.random.default_rng(1337)  # keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = z_mean.shape[0]  # ops.shape(z_mean)[0]
        dim = z_mean.shape[1]
        # keras.random.normal(shape=(batch, dim), seed=...): N(0, 1) noise, drawn by an op
        epsilon = ops.gaussian_noise(ops.zeros((batch, dim)), 1.0, rng=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    """Maps MNIST digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(keras.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(
        self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


def test_subclassing_guide_non_trainable_weights_losses_and_training_argument():
    """keras.io/guides/making_new_layers_and_models_via_subclassing: non-trainable weights,
    add_loss, the training argument, nested layers tracked as weights."""
    x = np.ones((2, 2))
    my_sum = ComputeSum(2)
    y = my_sum(x)
    np.testing.assert_array_equal(y.numpy(), [2.0, 2.0])
    y = my_sum(x)
    np.testing.assert_array_equal(y.numpy(), [4.0, 4.0])
    assert len(my_sum.weights) == 1
    assert len(my_sum.non_trainable_weights) == 1
    assert my_sum.trainable_weights == []

    class OuterLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs):
            return self.activity_reg(inputs)

    layer = OuterLayer()
    assert len(layer.losses) == 0  # No losses yet since the layer has never been called
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1  # We created one loss value
    # `layer.losses` gets reset at the start of each __call__
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1  # This is the loss created during the call above

    inputs = keras.Input(shape=(3,))
    x = layers.Dense(32, activation="relu")(inputs)
    x = CustomDropout(0.5)(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    data = np.random.random((8, 3)).astype("float32")  # noqa: NPY002 - as the example
    np.testing.assert_array_equal(model(data, training=False), model(data, training=False))
    assert not np.array_equal(model(data, training=True), model(data, training=False))


def test_subclassing_guide_variational_autoencoder(digits):
    """The guide's end-to-end example: a VAE built from nested layers, trained with fit and
    its KL term added with add_loss (64-pixel digits instead of 784-pixel MNIST)."""
    x_train, _ = digits
    original_dim = 64
    vae = VariationalAutoEncoder(original_dim, 32, 8)

    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    vae.compile(optimizer, loss=keras.losses.MeanSquaredError())

    history = vae.fit(x_train, x_train, epochs=4, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert len(vae.losses) == 1  # the KL term of the last call
    assert {w.name for w in vae.trainable_weights} and len(vae.trainable_weights) == 10


def test_mobilenet_v2_transfer_learning_and_fine_tuning(tmp_path):
    """tensorflow.org's "Transfer learning and fine-tuning" with Keras's MobileNetV2 (and the
    keras.io transfer-learning guide's recipe): the base without its top, frozen, run in
    inference mode under a new head, then its top layers unfrozen for fine-tuning. 32×32
    images and ``alpha=0.35`` instead of 160×160 and 1.0; ``weights=None`` (no download)."""
    rng = np.random.default_rng(0)
    image_batch = rng.integers(0, 256, (32, 32, 32, 3)).astype("float32")
    label_batch = (image_batch[..., 0].mean(axis=(1, 2)) > 127.5).astype("float32")

    data_augmentation = keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.2),
        ]
    )
    # preprocess_input = keras.applications.mobilenet_v2.preprocess_input: the tutorial's
    # alternative, a Rescaling layer, does the same ([0, 255] -> [-1, 1])
    rescale = layers.Rescaling(1.0 / 127.5, offset=-1)

    # Create the base model from the pre-trained model MobileNet V2
    IMG_SHAPE = (32, 32, 3)
    base_model = keras.applications.MobileNetV2(
        input_shape=IMG_SHAPE, include_top=False, weights=None, alpha=0.35
    )
    feature_batch = base_model(image_batch)
    assert feature_batch.shape == (32, 1, 1, 1280)  # (32, 5, 5, 1280) at 160×160

    base_model.trainable = False
    assert base_model.trainable_weights == []

    global_average_layer = layers.GlobalAveragePooling2D()
    prediction_layer = layers.Dense(1)

    inputs = keras.Input(shape=(32, 32, 3))
    x = data_augmentation(inputs)
    x = rescale(x)
    x = base_model(x, training=False)
    x = global_average_layer(x)
    x = layers.Dropout(0.2)(x)
    outputs = prediction_layer(x)
    model = keras.Model(inputs, outputs)
    assert len(model.trainable_variables) == 2

    base_learning_rate = 0.0001
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=base_learning_rate * 100),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.5, name="accuracy")],
    )
    frozen = [w.numpy().copy() for w in base_model.weights]
    history = model.fit(image_batch, label_batch, epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    for before, after in zip(frozen, base_model.weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())  # moving statistics included

    # Fine tuning
    base_model.trainable = True
    assert len(base_model.layers) == 154  # "Number of layers in the base model"
    fine_tune_at = 100
    for layer in base_model.layers[:fine_tune_at]:
        layer.trainable = False
    model.compile(
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        optimizer=keras.optimizers.RMSprop(learning_rate=base_learning_rate / 10),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.5, name="accuracy")],
    )
    assert len(model.trainable_variables) == 56  # the tutorial prints 56
    fine = model.fit(image_batch, label_batch, epochs=4, initial_epoch=history.epoch[-1], verbose=0)
    assert fine.epoch == [2, 3]
    np.testing.assert_array_equal(frozen[0], base_model.weights[0].numpy())  # Conv1 stays

    # include_top=False with pooling="avg" gives the pooled features directly
    pooled = keras.applications.MobileNetV2(
        input_shape=IMG_SHAPE, include_top=False, weights=None, pooling="avg", alpha=0.35
    )
    assert pooled.output_shape == (None, 1280)

    model.save(tmp_path / "transfer")
    loaded = keras.models.load_model(tmp_path / "transfer")
    np.testing.assert_allclose(
        loaded.predict(image_batch[:4], verbose=0),
        model.predict(image_batch[:4], verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
