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

The training contract is Keras 3's: ``fit`` calls ``train_step(data)`` once a batch, with
``data`` the batch ``(x, y)`` or ``(x, y, sample_weight)``, and logs the dict it returns;
``evaluate`` and validation call ``test_step(data)``. A subclass may write its own, from
``self(x, training=True)``, ``self.compute_loss(...)``, ``loss.backward()`` and
``self.optimizer.apply(grads, self.trainable_weights)``, and name its trackers in a
``metrics`` property. The built-in ``train_step`` runs a batch through ``models.replay``.
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
from glassnet.models import checkpoint, outputs, replay, saving, training
from glassnet.models import summary as summary_module
from glassnet.tensor import Tensor, no_grad

_several = training.several  # ``training`` is also the name of call's argument

# ``train_step(data)`` (Keras) and ``train_step(x, y)`` (glassnet's first form) share a name.
_KERAS_FORM = object()


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

    #: Whether ``call`` may be given a list of inputs (a ``Sequential`` takes one).
    takes_several_inputs: bool = True

    def __init__(self, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self.optimizer: optimizers_module.Optimizer | None = None
        self.loss: Any = None
        self.loss_weights: Any = None
        self._metrics_spec: Any = None
        self._plan: outputs.OutputPlan | None = None
        self._loss_tracker = metrics_module.Mean(name="loss")
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
    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        # A model whose call takes a list of inputs (Keras's several inputs) is called with
        # the list, as a multi-input layer such as Add is; one input stays one Tensor.
        several = self.takes_several_inputs and _several(inputs)
        if several and not self.__dict__.get("_multi_input"):
            self.__dict__["_multi_input"] = True
        return super().__call__(inputs, training)

    def _check_input_shape(self, input_shape: Any) -> Any:
        several = self.takes_several_inputs and not training.is_shape(input_shape)
        if several and not self.__dict__.get("_multi_input"):
            self.__dict__["_multi_input"] = True  # a list of shapes: several inputs
        return super()._check_input_shape(input_shape)

    def build(self, input_shape: Any) -> None:
        """Create every weight by running one zero sample through ``call`` (subclassed models
        have no shape arithmetic of their own). ``input_shape`` includes the batch axis; a list
        of shapes for a model with several inputs."""
        with no_grad():
            self._run_call(training.zero_sample(input_shape), False)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for ``input_shape`` (batch may be None), from one zero sample; a
        list of shapes for several inputs or outputs."""
        with no_grad():
            out = self(training.zero_sample(input_shape), training=False)
        batch = input_shape[0] if training.is_shape(input_shape) else input_shape[0][0]
        if isinstance(out, (list, tuple)):
            return [(batch, *o.shape[1:]) for o in out]
        return (batch, *out.shape[1:])

    @property
    def layers(self) -> list[Layer]:
        """Keras's ``model.layers``: for a subclassed model the layers its attributes hold, in
        the order they were set, unless it sets a ``layers`` attribute of its own."""
        own = self.__dict__.get("layers")
        return self.children() if own is None else own

    @layers.setter
    def layers(self, value: Any) -> None:  # Layer.__setattr__ has tracked it as sub-layers
        self.__dict__["layers"] = value

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

    def call(self, x: Any, training: bool = False) -> Any:
        """The forward pass. Subclasses write it, with or without ``training``, taking one
        Tensor or a list (several inputs) and returning one Tensor or a list (several
        outputs); ``Sequential`` runs its layers in order."""
        raise NotImplementedError(
            f"{type(self).__name__}: subclasses of Model must define call(self, x, training=False)."
        )

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer: str | optimizers_module.Optimizer = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        jit_compile: bool | str = "auto",
        loss_weights: Any = None,
    ) -> None:
        """Choose how to learn: the optimizer, the loss to lower, and metrics to report.

        Args:
            optimizer: an ``Optimizer`` or a Keras name from ``optimizers.NAMES`` ("nadam", ...).
            loss: a ``Loss`` or name (``"mse"``, ``"sparse_categorical_crossentropy"``, ...);
                for a model with several outputs one loss for all, a list with one per
                output, or a dict keyed by output name. None only for a model that writes its
                own ``train_step``.
            metrics: names or ``Metric`` objects; ``"accuracy"`` picks the accuracy that fits
                the loss, as in Keras. With several outputs a flat list scores every output;
                a list of lists or a dict keyed by output name scores each its own.
            jit_compile: ``"auto"`` or True lets ``fit`` and ``predict`` run later batches of a
                shape without building the autograd graph, with the same numbers; False sends
                every batch through the layers' ``call`` and ``loss.backward()``, the plain
                path a learner can step through. Keras's name for the same switch.
            loss_weights: with several outputs, what each output's loss counts for in the
                total (a list or a dict keyed by output name; 1 where not given).
        """
        if jit_compile not in (True, False, "auto"):
            raise ValueError(
                f"compile: jit_compile must be True, False or 'auto'. Received {jit_compile!r}."
            )
        self.jit_compile = jit_compile is not False
        self.optimizer = optimizers_module.get(optimizer)
        if loss is None and type(self).train_step is Model.train_step:
            raise ValueError(
                "compile: 'loss' is required, e.g. loss='sparse_categorical_crossentropy' for "
                "integer class labels or loss='mse' for numbers."
            )
        if isinstance(loss, (list, tuple)):
            loss = [None if item is None else losses_module.get(item) for item in loss]
        elif isinstance(loss, dict):
            loss = {k: None if v is None else losses_module.get(v) for k, v in loss.items()}
        elif loss is not None:
            loss = losses_module.get(loss)
        self.loss, self.loss_weights, self._metrics_spec = loss, loss_weights, metrics
        self._plan = None
        names = getattr(self, "output_names", None)
        structured = [spec for spec in (loss, loss_weights, metrics) if isinstance(spec, dict)]
        structured += [spec for spec in (loss, loss_weights) if isinstance(spec, (list, tuple))]
        if names or not structured:
            # Otherwise the outputs are counted, and named, when the first batch comes out.
            self._output_plan(len(names) if names else 1)
        self._optimizer_built = False

    def _output_plan(self, count: int) -> outputs.OutputPlan:
        """compile's loss, loss weights and metrics laid out over ``count`` outputs
        (``models.outputs``), made again when the model turns out to have another number."""
        if self._plan is None or len(self._plan.names) != count:
            self._plan = outputs.plan(self, count, self.loss, self.loss_weights, self._metrics_spec)
            several = count > 1 and any(loss is not None for loss in self._plan.losses)
            self._output_losses = (
                [metrics_module.Mean(name=f"{name}_loss") for name in self._plan.names]
                if several
                else []
            )
        return self._plan

    @property
    def compiled_metrics(self) -> list[metrics_module.Metric]:
        """The metrics ``compile`` was given, one object per output it scores."""
        return [] if self._plan is None else self._plan.metrics

    @property
    def metrics(self) -> list[metrics_module.Metric]:
        """Keras 3's list of what ``fit`` reports: the ``loss`` tracker (a ``Mean``), the
        compiled metrics, then each output's loss with several outputs. A subclass may
        override it to return its own trackers; ``fit`` resets those every epoch."""
        if self.optimizer is None:
            return []
        return [
            self._loss_tracker,
            *self.compiled_metrics,
            *self.__dict__.get("_output_losses", []),
        ]

    @property
    def metrics_names(self) -> list[str]:
        """The names of ``metrics``, the order ``evaluate`` returns values in."""
        return [m.name for m in self.metrics]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        """A new model from ``get_config()``'s output; ``Model.from_config`` of a functional
        model's config (its ``layers`` and ``input_layers``) rebuilds that graph, as Keras's
        does."""
        if cls is Model and "layers" in config and "input_layers" in config:
            from glassnet.models.functional import Functional  # it subclasses this class

            return Functional.from_config(config)
        return super().from_config(config)  # type: ignore[return-value]

    def _check_compiled(self, what: str, needs_loss: bool = True) -> None:
        if self.optimizer is None or (needs_loss and self.loss is None):
            raise RuntimeError(
                f"{what}: the model is not compiled. Call model.compile("
                "optimizer='adam', loss='sparse_categorical_crossentropy', "
                "metrics=['accuracy']) first."
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
    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Tensor:
        """The training loss of a batch, a scalar Tensor to call ``backward()`` on: each
        output's compiled loss (weighted by ``sample_weight``) times its ``loss_weights``
        entry, summed, plus the model's penalties (Keras 3's ``compute_loss``): those of the
        regularized weights always, those of the outputs (``activity_regularizer``, from the
        latest call) when ``training``.

        Shape: y and y_pred (N, ...) each, or lists (or dicts) of them for several outputs;
        sample_weight (N,), or one per output; output ().
        """
        total = self._compiled_loss(y, y_pred, sample_weight)
        # Regularization enters here: the penalties layers add (``Layer.losses``) join the
        # loss, so the gradient of each step lowers them too.
        penalty = regularization_loss(self, activity=training)
        if total is None and penalty is None:
            raise ValueError(
                f"compute_loss: model '{self.name}' was compiled without a loss. Pass "
                "loss=... to compile, or compute the loss in your own train_step."
            )
        return penalty if total is None else total if penalty is None else total + penalty

    def _compiled_loss(self, y: Any, y_pred: Any, sample_weight: Any) -> Tensor | None:
        """The compiled losses alone (no penalties), weighted and summed over the outputs;
        None when compiled without one."""
        preds = outputs.as_list(y_pred)
        plan = self._output_plan(len(preds))
        targets = outputs.structured(y, plan.names, "y")
        weights = outputs.structured(sample_weight, plan.names, "sample_weight")
        terms = [t for t in outputs.loss_terms(plan, targets, preds, weights) if t is not None]
        if not terms:
            return None
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def train_step(self, data: Any, y: Any = _KERAS_FORM) -> Any:
        """One step of gradient descent on a batch.

        Keras 3's form, ``train_step(data)`` with ``data`` a batch ``(x, y)`` or
        ``(x, y, sample_weight)``, returns the logs: ``{name: value}`` for every metric in
        ``metrics``, the loss's running mean first. glassnet's first form,
        ``train_step(x, y)``, returns the batch loss (not averaged). Both run the batch through
        ``models.replay``; ``fit`` calls the Keras form, a subclass's own included.
        """
        if y is not _KERAS_FORM:
            return self._train_batch(data, y, None)
        x, y, sample_weight = training.unpack(data)
        value = self._train_batch(x, y, sample_weight)
        self._loss_tracker.update_state(value, sample_weight=training.num_samples(x))
        return self._logs()

    def _train_batch(self, x: Any, y: Any, sample_weight: Any) -> float:
        """The step of ``train_step``: forward, loss, backward, update; the batch loss."""
        self._check_compiled("train_step")
        # a batch streamed as a dict by input name: in input order (arrays are ordered in fit)
        inputs, targets = training.as_input(self._ordered(x)), training.as_target(y)
        weights = None if sample_weight is None else training.as_target(sample_weight)
        parallel = self._parallel
        if parallel is not None and not getattr(self, "_parallel_started", False):
            if not self.built:
                self.build((None, *inputs.shape[1:]))
            self._build_optimizer()
            parallel.start(self)  # every rank starts from rank 0's weights
            self._parallel_started = True
        # A diverging run overflows long before the loss is checked; fit reports that itself,
        # in words, so NumPy's overflow warnings would only be noise.
        with np.errstate(over="ignore", invalid="ignore"):
            # Later batches of a shape replay the ops recorded from the first, which went
            # through the graph; a large batch a share per core (models.replay).
            if parallel is None:
                value, out, backward = replay.train_step(self, inputs, targets, weights)
            else:
                out = self(inputs, training=True)
                loss = self.compute_loss(inputs, targets, out, weights)
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
        self._update_metrics(targets, out, weights)
        return value

    def _update_metrics(self, targets: Any, out: Any, sample_weight: Any = None) -> None:
        """Feed the batch to the compiled metrics (each its output's) and, with several
        outputs, each output's loss to its tracker."""
        preds = outputs.as_list(out)
        plan = self._output_plan(len(preds))
        ys = outputs.structured(targets, plan.names, "y")
        ws = outputs.structured(sample_weight, plan.names, "sample_weight")
        for metric, i in zip(plan.metrics, plan.metric_outputs, strict=True):
            data = preds[i].data if isinstance(preds[i], Tensor) else preds[i]
            metric.update_state(ys[i], data, sample_weight=ws[i])
        if self._output_losses:
            with no_grad():
                detached = [p if isinstance(p, Tensor) else Tensor(p) for p in preds]
                terms = outputs.loss_terms(plan, ys, detached, ws)
            n = training.num_samples(preds)
            for tracker, term in zip(self._output_losses, terms, strict=True):
                if term is not None:
                    tracker.update_state(float(term.item()), sample_weight=n)

    def _reset_metrics(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: dict[Any, float] | None = None,
        return_dict: bool = False,
    ) -> Any:
        """One training step on one batch; returns its loss (and metrics), as Keras does."""
        self._check_compiled("train_on_batch", needs_loss=not self._own("train_step"))
        sample_weight = self._with_class_weight(y, sample_weight, class_weight)
        self._reset_metrics()
        self.train()
        try:
            logs = self._step("train_step", (x, y, sample_weight))
        finally:
            self.eval()
        return self._result(logs, return_dict)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """The loss (and metrics) of one batch, without learning from it."""
        self._check_compiled("test_on_batch", needs_loss=not self._own("test_step"))
        self._reset_metrics()
        return self._result(self._step("test_step", (x, y, sample_weight)), return_dict)

    def test_step(self, data: Any) -> dict[str, Any]:
        """Score one batch ``(x, y)`` or ``(x, y, sample_weight)`` without learning from it
        (Keras 3): updates ``metrics`` and returns their values, the loss's first."""
        x, y, sample_weight = training.unpack(data)
        targets = training.as_target(y)
        weights = None if sample_weight is None else training.as_target(sample_weight)
        inputs = training.as_input(self._ordered(x))
        with no_grad():  # the outputs as predict computes them: in slices, on every core
            if isinstance(inputs, Tensor):
                pieces = training.predict_slices(self, inputs)
                joined = pieces[0] if len(pieces) == 1 else training.concatenate(pieces)
            else:
                joined = training.predict_batches(self, [(inputs, None)])
            out: Any = training.map_arrays(joined, Tensor)
            loss = float(self.compute_loss(inputs, targets, out, weights, False).item())
        self._loss_tracker.update_state(loss, sample_weight=training.num_samples(inputs))
        self._update_metrics(targets, out, weights)
        return self._logs()

    def predict_step(self, data: Any) -> Any:
        """The model's outputs for one batch ``x`` (or ``(x,)``), in inference mode (Keras 3);
        ``predict`` calls a subclass's own once a batch and concatenates what it returns."""
        x, _, _ = training.unpack(data)
        with no_grad():
            out = self(training.as_input(self._ordered(x)), training=False)
        return self._named(replay._numpy(out))

    def predict_on_batch(self, x: Any) -> Any:
        """The model's outputs for one batch, in inference mode."""
        return self.predict_step(x)

    def _own(self, step: str) -> bool:
        """Whether a subclass wrote its own ``train_step``/``test_step``/``predict_step``."""
        return getattr(type(self), step) is not getattr(Model, step)

    def _step(self, step: str, data: Any) -> dict[str, float]:
        """Run ``train_step`` or ``test_step`` (the built-in or a subclass's) on ``data`` and
        return its logs as plain floats."""
        if step == "train_step" and self._own(step) and self.built:
            self._build_optimizer()  # a step of one's own: optimizer.apply knows every weight
        x, y, sample_weight = data
        batch = (x, y) if sample_weight is None else (x, y, sample_weight)
        logs = getattr(self, step)(batch)
        if not isinstance(logs, dict):
            raise TypeError(
                f"{type(self).__name__}.{step} must return a dict of metric values, e.g. "
                "{m.name: m.result() for m in self.metrics}. Received "
                f"{type(logs).__name__}."
            )
        return {str(k): _scalar(v) for k, v in logs.items()}

    def _logs(self) -> dict[str, Any]:
        return metrics_module.results(self.metrics)

    @staticmethod
    def _result(logs: dict[str, float], return_dict: bool) -> Any:
        """Keras's answer: the loss alone when no metrics were compiled, else ``[loss,
        *metrics]``, or the dict with ``return_dict=True``."""
        if return_dict:
            return logs
        return next(iter(logs.values())) if len(logs) == 1 else list(logs.values())

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
        class_weight: dict[Any, float] | None = None,
        sample_weight: Any = None,
    ) -> callbacks_module.History:
        """Train for ``epochs`` passes over the data (or until a callback stops it).

        Args:
            x, y: inputs (N, ...) and targets (N, ...) as arrays (lists or dicts of arrays for
                a model with several inputs or outputs); or ``x`` an iterable of
                ``(x_batch, y_batch)`` or ``(x_batch, y_batch, weight_batch)`` batches (then
                ``y`` is None) for data that streams.
            batch_size: samples per gradient step.
            epochs: how many times to go through the data.
            verbose: 0 silent, 1 progress bar (one line per epoch off a terminal), 2 one line
                per epoch.
            callbacks: extra ``Callback`` objects (EarlyStopping, StopAtThreshold, ...).
            validation_split: share of the data (the last samples, before shuffling) held out
                to score each epoch on data the model does not learn from.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)`` (or an
                iterable of batches) to score instead.
            shuffle: reshuffle the training samples every epoch.
            initial_epoch: the epoch to start counting from.
            checkpoint_dir: save model, optimizer state, epoch and random state here after
                every epoch, atomically.
            resume: continue from the latest checkpoint in ``checkpoint_dir``.
            distributed: train data-parallel over the ranks of an ``mpirun`` job (see
                ``glassnet.distributed``): each rank takes a slice of every batch and the
                gradients are averaged. With one rank, or without MPI, ordinary training.
            class_weight: ``{class: weight}`` for a model with one output: each sample's loss
                is weighted by its class's weight (integer or one-hot targets), e.g. to make a
                rare class count as much as a common one.
            sample_weight: (N,) weights, one per sample (one array per output, or one for
                all): the loss becomes sum(w·loss) / N (Keras's) and metrics weigh samples.

        Returns:
            A ``History`` whose ``history`` dict holds each epoch's loss and metrics.
        """
        self._check_compiled("fit", needs_loss=not self._own("train_step"))
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"fit: 'epochs' must be a non-negative integer. Received: {epochs}")
        train_batches, val_batches, verbose = self._fit_batches(
            x,
            y,
            (sample_weight, class_weight),
            batch_size,
            shuffle,
            validation_split,
            validation_data,
            distributed,
            verbose,
        )
        history = callbacks_module.History()
        if resume:
            initial_epoch = self._resume(history, checkpoint_dir, train_batches, initial_epoch)
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

    def _resume(
        self,
        history: callbacks_module.History,
        checkpoint_dir: str | None,
        batches: training.Batches,
        initial_epoch: int,
    ) -> int:
        """Load the latest checkpoint in ``checkpoint_dir`` (model, optimizer, random state)
        into the model and ``history``; the epoch to go on from."""
        if checkpoint_dir is None:
            raise ValueError("fit: resume=True needs checkpoint_dir, where the checkpoints are.")
        restored = checkpoint.restore_latest(self, checkpoint_dir, batches)
        if restored is None:
            return initial_epoch
        initial_epoch, history.history, history.epoch = restored
        return initial_epoch

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
        weights: tuple[Any, dict[Any, float] | None],
        batch_size: int,
        shuffle: bool,
        validation_split: float,
        validation_data: Any,
        distributed: bool,
        verbose: int,
    ) -> tuple[training.Batches, training.Batches | None, int]:
        """fit's training and validation batches, this rank's share of them when
        ``distributed``, and the verbosity (only rank 0 shows progress). ``weights``: fit's
        ``(sample_weight, class_weight)``; class weights become sample weights here."""
        x = self._ordered(x)
        sample_weight = self._with_class_weight(y, *weights)
        if weights[1] is not None and y is None:  # batches that stream: weighed as they come
            x = training.class_weighted(training.make_batches(x, None, 1, False, "fit"), weights[1])
        if validation_split and validation_data is None:
            if y is None:
                raise ValueError(
                    "fit: validation_split needs arrays x and y; pass validation_data."
                )
            (x, y, sample_weight), validation_data = training.split_validation(
                x, y, validation_split, sample_weight
            )
        train_batches = training.make_batches(x, y, batch_size, shuffle, "fit", sample_weight)
        parallel = training.data_parallel() if distributed else None
        if parallel is not None and parallel.size == 1:
            parallel = None  # one rank: exactly ordinary training
        if parallel is not None and (sample_weight is not None or _several(x) or _several(y)):
            raise ValueError(
                "fit(distributed=True) trains models with one input and one output, without "
                "sample_weight or class_weight, so far. Train without distributed=True."
            )
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
            if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
                xv, yv, wv = training.unpack(validation_data)
                xv = self._ordered(xv)
                val_batches = training.make_batches(xv, yv, batch_size, False, "fit", wv)
            else:
                val_batches = training.make_batches(validation_data, None, batch_size, False, "fit")
        return train_batches, val_batches, verbose

    def _train_epoch(
        self, batches: training.Batches, epoch: int, steps: int | None, cbs: Any
    ) -> dict[str, float] | None:
        self.train()
        self._reset_metrics()
        snapshot = self.get_weights()  # fallback if an update itself produces NaN weights
        logs: dict[str, float] = {}
        try:
            for batch, data in enumerate(batches):
                cbs.on_train_batch_begin(batch)
                logs = self._step("train_step", training.unpack(data))
                value = logs.get("loss", 0.0)
                if isinstance(value, float) and not math.isfinite(value):
                    self._stop_on_non_finite(value, epoch, batch, steps, snapshot)
                    return None
                cbs.on_train_batch_end(batch, logs)
                if self.stop_training:
                    break
        finally:
            self.eval()
        if self._parallel is not None:  # the whole batch's loss and metrics, over all ranks
            logs = self._global_logs()
        return dict(logs)

    def _global_logs(self) -> dict[str, float]:
        total = self._parallel.sum(metrics_module.state_vector(self.metrics))
        metrics_module.load_state_vector(self.metrics, total)
        return self._logs()

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
        logs = None
        for data in batches:
            logs = self._step("test_step", training.unpack(data))
        if logs is None:
            raise ValueError("evaluate: the data held no samples.")
        return logs

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int = 32,
        verbose: int = 0,
        return_dict: bool = False,
        sample_weight: Any = None,
    ) -> Any:
        """The loss (and metrics) over a whole dataset, without learning from it.

        ``sample_weight`` (N,) weighs each sample's loss and metrics, as in ``fit``. Returns
        the loss alone when no metrics were compiled, else ``[loss, *metrics]`` (Keras's
        convention), or a dict with ``return_dict=True``.
        """
        self._check_compiled("evaluate", needs_loss=not self._own("test_step"))
        batches = training.make_batches(
            self._ordered(x), y, batch_size, False, "evaluate", sample_weight
        )
        logs = self._evaluate_batches(batches)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return self._result(logs, return_dict)

    def _ordered(self, x: Any) -> Any:
        """The inputs as ``call`` takes them: a functional model also takes a dict by input
        name and gives the list in its input order here."""
        return x

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> Any:
        """The model's outputs for every sample, computed in batches under ``no_grad``.

        A ``Sequential`` runs a batch whose activations would outgrow the CPU's cache in
        smaller slices (``training.inference_rows``): the same predictions, faster.
        ``verbose``: 0 silent, 1 a progress bar on a terminal (a summary line otherwise),
        2 the summary line. A model with several inputs takes a list of arrays; one with
        several outputs returns a list of arrays.

        Shape: x (N, ...) -> (N, ...output).
        """
        batches = training.make_batches(self._ordered(x), None, batch_size, False, "predict")
        if self._own("predict_step"):
            return training.concatenate([self.predict_step(xb) for xb, _ in batches])
        return self._named(training.predict_batches(self, batches, verbose))

    def _named(self, outputs: Any) -> Any:
        """Output arrays as ``call`` structures them: a functional model whose outputs were
        given as a dict gives them back by name."""
        return outputs

    def _with_class_weight(
        self, y: Any, sample_weight: Any, class_weight: dict[Any, float] | None
    ) -> Any:
        """``sample_weight``, or the weights ``class_weight`` gives the samples of ``y``."""
        if class_weight is None:
            return sample_weight
        if sample_weight is not None:
            raise ValueError(
                "fit: pass class_weight or sample_weight, not both. Multiply the class weights "
                "into sample_weight yourself to use both."
            )
        if not isinstance(class_weight, dict):
            raise TypeError(
                f"fit: class_weight must be a dict {{class: weight}}. Received "
                f"{type(class_weight).__name__}."
            )
        return None if y is None else training.class_weights(y, class_weight)

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
    def summary(
        self,
        line_length: int | None = None,
        positions: list[float] | None = None,
        print_fn: Any = None,
        expand_nested: bool = True,
        show_trainable: bool = False,
        layer_range: list[str] | None = None,
    ) -> None:
        """Print each layer's output shape, parameters with the formula behind the count,
        multiply-accumulates per sample, the totals and the number of hidden layers.

        Keras's arguments: ``line_length`` trims the widest columns (formula, links) to fit;
        ``positions`` says where each column ends (fractions of ``line_length`` or character
        positions); ``print_fn`` receives the text instead of ``print``; ``expand_nested=False``
        leaves out the layers inside nested models (glassnet shows them by default);
        ``show_trainable`` adds a Y/N column; ``layer_range=[first, last]`` (name patterns)
        shows only those rows. The totals always count the whole model."""
        summary_module.print_summary(
            self,
            print_fn,
            line_length=line_length,
            positions=positions,
            expand_nested=expand_nested,
            show_trainable=show_trainable,
            layer_range=layer_range,
        )

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


def _scalar(value: Any) -> Any:
    """A logged value as a Python float (an array of several values stays an array)."""
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    return float(array) if array.size == 1 else array
