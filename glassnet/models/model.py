"""Model: layers joined into one network that can be compiled, trained, evaluated and saved.

Three ways to make one, as in Keras:

* ``Sequential([...])`` for a plain stack of layers (``glassnet/models/sequential.py``);
* the functional API, ``Model(inputs, outputs)`` after calling layers on ``Input(...)``, for
  any graph of layers (``glassnet/models/functional.py``);
* subclassing, for networks whose ``call`` is Python of your own::

      class Residual(glassnet.Model):
          def __init__(self):
              super().__init__()
              self.conv = layers.Conv2D(16, 3, padding="same", activation="relu")
              self.add = layers.Add()

          def call(self, x, training=False):
              return self.add([x, self.conv(x)])

``compile`` chooses the optimizer, the loss and the metrics; ``fit`` runs the training loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from glassnet import callbacks as callbacks_module
from glassnet import losses as losses_module
from glassnet import metrics as metrics_module
from glassnet import optimizers as optimizers_module
from glassnet.layers.layer import Layer, regularization_loss
from glassnet.models import checkpoint, replay, saving, training
from glassnet.models import summary as summary_module
from glassnet.tensor import Tensor, no_grad


class Model(Layer):
    """A network: a layer made of layers, plus training (``compile``/``fit``) and saving.

    Subclass it, create layers as attributes in ``__init__`` and write ``call(x, training)``.
    Model-level names are Keras's; ``parameters()``, ``state_dict()``, ``train()``/``eval()``
    are PyTorch's.
    """

    #: fit's own bookkeeping, which changes nothing a batch computes.
    run_state = Layer.run_state | {
        "_parallel",
        "_parallel_started",
        "_optimizer_built",
        "stop_training",
        "stop_reason",
        "history",
    }

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        # Model(inputs, outputs) is the functional API (Keras): a Functional model.
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from glassnet.models.functional import Functional  # it subclasses this class

            return Functional.__new__(Functional, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self.optimizer: optimizers_module.Optimizer | None = None
        self.loss: losses_module.Loss | None = None
        self.compiled_metrics: list[metrics_module.Metric] = []
        self.stop_training = False
        self.stop_reason: str | None = None
        #: Whether later batches of a shape may skip the autograd graph (``compile``).
        self.jit_compile = True
        self.class_names: list[str] | None = None
        #: How inputs are loaded from files (image size, colour mode), saved with the model.
        self.preprocessing: dict[str, Any] | None = None
        self.history: callbacks_module.History | None = None
        # The data-parallel backend of a fit(distributed=True) run with several ranks.
        self._parallel: training.DataParallel | None = None

    # ------------------------------------------------------------------ building
    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create every weight by running one zero sample through ``call`` (subclassed models
        have no shape arithmetic of their own). ``input_shape`` includes the batch axis."""
        shape = tuple(1 if n is None else n for n in input_shape)
        with no_grad():  # call(self, x) without training works too, as in Keras 3
            self._run_call(Tensor(np.zeros(shape, np.float32)), False)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> Any:
        """The output shape for ``input_shape`` (batch may be None), from one zero sample."""
        shape = tuple(1 if n is None else n for n in input_shape)
        with no_grad():
            out = self(Tensor(np.zeros(shape, np.float32)), training=False)
        return (input_shape[0], *out.shape[1:])

    @property
    def output_shape(self) -> Any:
        """The shape of the model's output for its input shape, batch first (None: any)."""
        if self.input_shape is None:
            raise AttributeError(
                f"Model '{self.name}' does not know its output shape until it knows its input "
                "shape: start it with Input(shape), call model.build((None, *shape)) or run it "
                "on a batch."
            )
        return self.compute_output_shape(self.input_shape)

    def largest_activation(self, sample_shape: tuple[int, ...]) -> int | None:
        """Numbers in the largest layer output for one sample of shape ``sample_shape``, or
        None when the model cannot tell without running (a subclassed model); ``predict``
        uses it to size the slices it runs at once (``training.inference_rows``)."""
        return None

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """The forward pass. Subclasses write it; ``Sequential`` runs its layers in order."""
        raise NotImplementedError(
            f"{type(self).__name__}: subclasses of Model must define call(self, x, training=False)."
        )

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer: str | optimizers_module.Optimizer = "rmsprop",
        loss: str | losses_module.Loss | None = None,
        metrics: Iterable[str | metrics_module.Metric] | None = None,
        jit_compile: bool | str = "auto",
    ) -> None:
        """Choose how to learn: the optimizer, the loss to lower, and metrics to report.

        Args:
            optimizer: an ``Optimizer`` or a Keras name from ``optimizers.NAMES`` ("nadam", ...).
            loss: a ``Loss`` or name (``"mse"``, ``"sparse_categorical_crossentropy"``, ...).
            metrics: names or ``Metric`` objects; ``"accuracy"`` picks the accuracy that fits
                the loss, as in Keras.
            jit_compile: ``"auto"`` or True lets ``fit`` and ``predict`` run later batches of a
                shape without building the autograd graph, with the same numbers; False sends
                every batch through the layers' ``call`` and ``loss.backward()``, the plain
                path a learner can step through. Keras's name for the same switch.
        """
        if jit_compile not in (True, False, "auto"):
            raise ValueError(
                f"compile: jit_compile must be True, False or 'auto'. Received {jit_compile!r}."
            )
        self.jit_compile = jit_compile is not False
        self.optimizer = optimizers_module.get(optimizer)
        if loss is None:
            raise ValueError(
                "compile: 'loss' is required, e.g. loss='sparse_categorical_crossentropy' for "
                "integer class labels or loss='mse' for numbers."
            )
        self.loss = losses_module.get(loss)
        if isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        self.compiled_metrics = [metrics_module.get(m, self.loss.name) for m in metrics or []]
        self._optimizer_built = False

    @property
    def metrics_names(self) -> list[str]:
        """``["loss", *metric names]``, the order ``evaluate`` returns values in."""
        return ["loss", *(m.name for m in self.compiled_metrics)]

    def _check_compiled(self, what: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(
                f"{what}: the model is not compiled. Call model.compile(optimizer='adam', "
                "loss='sparse_categorical_crossentropy', metrics=['accuracy']) first."
            )

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if isinstance(value, Layer) and self.__dict__.get("optimizer") is not None:
            self._optimizer_built = False  # new weights: the optimizer must learn of them

    def _build_optimizer(self) -> None:
        """Attach the optimizer to every weight that can learn — frozen ones included, so that
        unfreezing (fine-tuning) needs no recompile; the optimizer skips frozen weights and
        weights without gradients. After the architecture changed (a new head), the optimizer
        is rebuilt for the new set of weights, keeping the state of those that stayed."""
        if getattr(self, "_optimizer_built", False):
            return
        learnable = self._learnable_weights()
        old = self.optimizer
        if old.built and [id(p) for p in old.params] != [id(p) for p in learnable]:
            fresh = type(old).from_config(old.get_config())
            fresh.build(learnable)
            state, previous = fresh.state_dict(), old.state_dict()
            index = {id(p): i for i, p in enumerate(old.params)}
            for j, param in enumerate(learnable):
                i = index.get(id(param))
                for key in [k for k in state if i is not None and k.startswith(f"{j}.")]:
                    state[key] = previous[f"{i}.{key.split('.', 1)[1]}"]
            state["iterations"], state["learning_rate"] = (
                previous["iterations"],
                previous["learning_rate"],
            )
            fresh.load_state_dict(state)
            self.optimizer = fresh
        elif not old.built:
            old.build(learnable)
        self._optimizer_built = True

    def _learnable_weights(self) -> list[Tensor]:
        learnable, seen = [], set()
        for _, layer in self.named_layers():
            for name, created_trainable in layer._weight_trainable.items():
                weight = layer.__dict__.get(name)
                if created_trainable and weight is not None and id(weight) not in seen:
                    seen.add(id(weight))
                    learnable.append(weight)
        return learnable

    # ------------------------------------------------------------------ one batch
    def train_step(self, x: Any, y: Any) -> float:
        """One step of gradient descent on a batch; returns the batch loss (not averaged)."""
        inputs, targets = training.as_input(x), training.as_target(y)
        # A diverging run overflows long before the loss is checked; fit reports that itself,
        # in words, so NumPy's overflow warnings would only be noise.
        parallel = self._parallel
        if parallel is not None and not getattr(self, "_parallel_started", False):
            if not self.built:
                self.build((None, *inputs.shape[1:]))
            self._build_optimizer()
            parallel.start(self)  # every rank starts from rank 0's weights
            self._parallel_started = True
        with np.errstate(over="ignore", invalid="ignore"):
            # Later batches of a shape replay the ops recorded from the first, which went
            # through the graph; a large batch a share per core (models.replay).
            if parallel is None:
                value, outputs, backward = replay.train_step(self, inputs, targets)
            else:
                outputs = self(inputs, training=True)
                loss = self.loss(targets, outputs)
                penalty = regularization_loss(self)  # the same on every rank: counted once
                loss = loss if penalty is None else loss + penalty
                value = float(loss.item())
                # decide on NaN together, or the ranks would part ways
                value = float(parallel.sum(np.array([value * parallel.fraction]))[0])
                backward = loss.backward
            if not math.isfinite(value):
                return value  # the caller stops training before an update touches the weights
            self._build_optimizer()
            self.optimizer.zero_grad()
            backward()
            if parallel is not None:
                parallel.average_gradients(self.optimizer.params)
            self.optimizer.step()
        self._update_metrics(targets, outputs)
        return value

    def _update_metrics(self, targets: Any, outputs: Tensor) -> None:
        for metric in self.compiled_metrics:
            metric.update_state(targets, outputs.data)

    def _reset_metrics(self) -> None:
        for metric in self.compiled_metrics:
            metric.reset_state()

    def train_on_batch(self, x: Any, y: Any, return_dict: bool = False) -> Any:
        """One training step on one batch; returns its loss (and metrics), as Keras does."""
        self._check_compiled("train_on_batch")
        self._reset_metrics()
        self.train()
        try:
            loss = self.train_step(x, y)
        finally:
            self.eval()
        return self._result(self._logs(loss), return_dict)

    def test_on_batch(self, x: Any, y: Any, return_dict: bool = False) -> Any:
        """The loss (and metrics) of one batch, without learning from it."""
        self._check_compiled("test_on_batch")
        self._reset_metrics()
        return self._result(self._logs(self._test_step(x, y)), return_dict)

    def _test_step(self, x: Any, y: Any) -> float:
        targets = training.as_target(y)
        with no_grad():  # the outputs as predict computes them: in slices, on every core
            pieces = training.predict_slices(self, training.as_input(x))
            outputs = Tensor(pieces[0] if len(pieces) == 1 else np.concatenate(pieces))
            loss = self.loss(targets, outputs)
            # The weights' penalties, as fit reports them (outputs' penalties: training only).
            penalty = regularization_loss(self, activity=False)
            loss = float((loss if penalty is None else loss + penalty).item())
        self._update_metrics(targets, outputs)
        return loss

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """The model's outputs for one batch, in inference mode."""
        with no_grad():
            return self(training.as_input(x), training=False).numpy()

    def _logs(self, loss: float) -> dict[str, float]:
        return {"loss": loss, **metrics_module.results(self.compiled_metrics)}

    @staticmethod
    def _result(logs: dict[str, float], return_dict: bool) -> Any:
        """Keras's answer: the loss alone when no metrics were compiled, else ``[loss,
        *metrics]``, or the dict with ``return_dict=True``."""
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    # ------------------------------------------------------------------ whole datasets
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int = 32,
        epochs: int = 1,
        verbose: int = 1,
        callbacks: Iterable[callbacks_module.Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
        checkpoint_dir: str | None = None,
        resume: bool = False,
        distributed: bool = False,
    ) -> callbacks_module.History:
        """Train for ``epochs`` passes over the data (or until a callback stops it).

        Args:
            x, y: inputs (N, ...) and targets (N, ...) as arrays; or ``x`` an iterable of
                ``(x_batch, y_batch)`` pairs (then ``y`` is None) for data that streams.
            batch_size: samples per gradient step.
            epochs: how many times to go through the data.
            verbose: 0 silent, 1 progress bar (one line per epoch off a terminal), 2 one line
                per epoch.
            callbacks: extra ``Callback`` objects (EarlyStopping, StopAtThreshold, ...).
            validation_split: share of the data (the last samples, before shuffling) held out
                to score each epoch on data the model does not learn from.
            validation_data: ``(x_val, y_val)`` (or an iterable of batches) to score instead.
            shuffle: reshuffle the training samples every epoch.
            initial_epoch: the epoch to start counting from.
            checkpoint_dir: save model, optimizer state, epoch and random state here after
                every epoch, atomically.
            resume: continue from the latest checkpoint in ``checkpoint_dir``.
            distributed: train data-parallel over the ranks of an ``mpirun`` job (see
                ``glassnet.distributed``): each rank takes a slice of every batch and the
                gradients are averaged. With one rank, or without MPI, ordinary training.

        Returns:
            A ``History`` whose ``history`` dict holds each epoch's loss and metrics.
        """
        self._check_compiled("fit")
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"fit: 'epochs' must be a non-negative integer. Received: {epochs}")
        train_batches, val_batches, verbose = self._fit_batches(
            x, y, batch_size, shuffle, validation_split, validation_data, distributed, verbose
        )
        history = callbacks_module.History()
        if resume:
            if checkpoint_dir is None:
                raise ValueError(
                    "fit: resume=True needs checkpoint_dir, where the checkpoints are."
                )
            restored = checkpoint.restore_latest(self, checkpoint_dir, train_batches)
            if restored is not None:
                initial_epoch, history.history, history.epoch = restored
        steps = len(train_batches) if hasattr(train_batches, "__len__") else None
        parallel = self._parallel
        chief = parallel is None or parallel.rank == 0
        cbs = self._callback_list(history, callbacks, chief, epochs, steps, verbose)
        self.stop_training, self.stop_reason = False, None
        self.history = history
        try:
            cbs.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                if not self._fit_epoch(epoch, train_batches, val_batches, steps, cbs):
                    break
                if checkpoint_dir is not None and chief:
                    checkpoint.save(self, checkpoint_dir, epoch, history, train_batches)
                if self.stop_training:
                    break
            history.stop_reason = self.stop_reason
            cbs.on_train_end()
        except Exception as err:
            if parallel is not None:  # one rank failing must not leave the others waiting
                parallel.abort(err)
            raise
        return history

    def _callback_list(
        self,
        history: callbacks_module.History,
        callbacks: Iterable[callbacks_module.Callback] | None,
        chief: bool,
        epochs: int,
        steps: int | None,
        verbose: int,
    ) -> callbacks_module.CallbackList:
        """The history, the progress bar and the user's callbacks, told of the model and the
        run; on ranks other than the chief, without the callbacks that only it runs."""
        extra = [cb for cb in callbacks or [] if chief or not getattr(cb, "chief_only", False)]
        # History last, as in Keras, so it records what callbacks add to the logs (learning_rate)
        cbs = callbacks_module.CallbackList(
            [callbacks_module.ProgressBar(verbose), *extra, history]
        )
        cbs.set_model(self)
        cbs.set_params({"epochs": epochs, "steps": steps, "verbose": verbose})
        return cbs

    def _fit_epoch(
        self,
        epoch: int,
        train_batches: training.Batches,
        val_batches: training.Batches | None,
        steps: int | None,
        cbs: callbacks_module.CallbackList,
    ) -> bool:
        """One epoch of fit, scored on the validation batches; False where the loss became
        NaN or infinite (training then stops, before any update from that batch)."""
        cbs.on_epoch_begin(epoch)
        logs = self._train_epoch(train_batches, epoch, steps, cbs)
        if logs is None:
            return False
        if val_batches is not None:
            val_logs = self._evaluate_batches(val_batches)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        cbs.on_epoch_end(epoch, logs)
        return True

    def _fit_batches(
        self,
        x: Any,
        y: Any,
        batch_size: int,
        shuffle: bool,
        validation_split: float,
        validation_data: Any,
        distributed: bool,
        verbose: int,
    ) -> tuple[training.Batches, training.Batches | None, int]:
        """fit's training and validation batches, this rank's share of them when
        ``distributed``, and the verbosity (only rank 0 shows progress)."""
        if validation_split and validation_data is None:
            if y is None:
                raise ValueError(
                    "fit: validation_split needs arrays x and y; pass validation_data."
                )
            x, y, xv, yv = training.split_validation(x, y, validation_split)
            validation_data = (xv, yv)
        train_batches = training.make_batches(x, y, batch_size, shuffle, "fit")
        parallel = training.data_parallel() if distributed else None
        if parallel is not None and parallel.size == 1:
            parallel = None  # one rank: exactly ordinary training
        self._parallel = parallel
        if parallel is not None:
            parallel.prepare(train_batches)
            train_batches = parallel.shard(train_batches)
            verbose = verbose if parallel.rank == 0 else 0
        # A photo folder knows its class names and how it loads images: keep both with the
        # model, so a saved model predicts from files exactly as it was trained.
        for attr in ("class_names", "preprocessing"):
            if getattr(self, attr, None) is None and getattr(x, attr, None) is not None:
                setattr(self, attr, getattr(x, attr))
        val_batches = None
        if validation_data is not None:
            if isinstance(validation_data, tuple) and len(validation_data) == 2:
                val_batches = training.make_batches(*validation_data, batch_size, False, "fit")
            else:
                val_batches = training.make_batches(validation_data, None, batch_size, False, "fit")
        return train_batches, val_batches, verbose

    def _train_epoch(
        self, batches: training.Batches, epoch: int, steps: int | None, cbs: Any
    ) -> dict[str, float] | None:
        self.train()
        self._reset_metrics()
        snapshot = self.get_weights()  # fallback if an update itself produces NaN weights
        loss_sum, seen, logs = 0.0, 0, {}
        try:
            for batch, (xb, yb) in enumerate(batches):
                cbs.on_train_batch_begin(batch)
                value = self.train_step(xb, yb)
                if not math.isfinite(value):
                    self._stop_on_non_finite(value, epoch, batch, steps, snapshot)
                    return None
                n = len(xb)
                loss_sum, seen = loss_sum + value * n, seen + n
                logs = self._logs(loss_sum / seen)
                cbs.on_train_batch_end(batch, logs)
                if self.stop_training:
                    break
        finally:
            self.eval()
        if self._parallel is not None:  # the whole batch's loss and metrics, over all ranks
            logs = self._global_logs(loss_sum, seen)
        return dict(logs)

    def _global_logs(self, loss_sum: float, seen: int) -> dict[str, float]:
        metrics = self.compiled_metrics
        local = np.concatenate([[loss_sum, seen], metrics_module.state_vector(metrics)])
        total = self._parallel.sum(local)
        metrics_module.load_state_vector(metrics, total[2:])
        return self._logs(float(total[0] / total[1]))

    def _stop_on_non_finite(
        self, value: float, epoch: int, batch: int, steps: Any, snapshot: list[np.ndarray]
    ) -> None:
        if not all(np.all(np.isfinite(w)) for w in self.get_weights()):
            self.set_weights(snapshot)
        lr = float(self.optimizer.learning_rate)
        message = training.non_finite_message(value, epoch, batch, steps, lr)
        self.stop_training, self.stop_reason = True, message
        training.warn_non_finite(message)

    def _evaluate_batches(self, batches: training.Batches) -> dict[str, float]:
        self._reset_metrics()
        loss_sum, seen = 0.0, 0
        for xb, yb in batches:
            n = len(xb)
            loss_sum += self._test_step(xb, yb) * n
            seen += n
        if seen == 0:
            raise ValueError("evaluate: the data held no samples.")
        return self._logs(loss_sum / seen)

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int = 32,
        verbose: int = 0,
        return_dict: bool = False,
    ) -> Any:
        """The loss (and metrics) over a whole dataset, without learning from it.

        Returns the loss alone when no metrics were compiled, else ``[loss, *metrics]`` (Keras's
        convention), or a dict with ``return_dict=True``.
        """
        self._check_compiled("evaluate")
        logs = self._evaluate_batches(training.make_batches(x, y, batch_size, False, "evaluate"))
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return self._result(logs, return_dict)

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs for every sample, computed in batches under ``no_grad``.

        A ``Sequential`` runs a batch whose activations would outgrow the CPU's cache in
        smaller slices (``training.inference_rows``): the same predictions, faster.
        ``verbose``: 0 silent, 1 a progress bar on a terminal (a summary line otherwise),
        2 the summary line.

        Shape: x (N, ...) -> (N, ...output).
        """
        batches = training.make_batches(x, None, batch_size, False, "predict")
        return training.predict_batches(self, batches, verbose)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A sub-layer by its name (searched through nested models too) or by its position."""
        if index is not None:
            children = self.children()
            if not -len(children) <= index < len(children):
                raise ValueError(
                    f"get_layer: index {index} is out of range; '{self.name}' has "
                    f"{len(children)} layers."
                )
            return children[index]
        for _, layer in self.named_layers():
            if layer is not self and layer.name == name:
                return layer
        names = ", ".join(layer.name for _, layer in self.named_layers() if layer is not self)
        raise ValueError(f"get_layer: no layer named {name!r} in '{self.name}'. Layers: {names}.")

    # ------------------------------------------------------------------ looking at it
    def summary(self, print_fn: Any = None) -> None:
        """Print each layer's output shape, parameters with the formula behind the count,
        multiply-accumulates per sample, the totals and the number of hidden layers."""
        summary_module.print_summary(self, print_fn)

    # ------------------------------------------------------------------ files
    def save(self, path: str, include_optimizer: bool = True) -> None:
        """Save architecture, weights and optimizer state to a folder (or ``.zip`` file).

        ``glassnet.load_model(path)`` rebuilds it; nothing in the files is ever executed.
        """
        if self._parallel is not None and self._parallel.rank != 0:
            return  # in a distributed run only rank 0 writes the model
        saving.save_model(self, path, include_optimizer=include_optimizer)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as a JSON string (no weights); ``models.model_from_json`` rebuilds
        it with fresh weights. ``kwargs`` go to ``json.dumps`` (e.g. ``indent=2``)."""
        return saving.architecture_json(self, **kwargs)

    def save_weights(self, path: str) -> None:
        """Save only the weights, as a ``.safetensors`` file."""
        saving.save_weights(self, path)

    def load_weights(self, path: str, strict: bool = True) -> Any:
        """Load weights saved by ``save_weights`` or ``save`` into this (built) model."""
        return saving.load_weights(self, path, strict=strict)
