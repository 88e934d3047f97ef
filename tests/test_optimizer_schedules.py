"""Learning-rate schedules: Keras's formulas step by step, stepping inside optimizers and
``fit``, saving with the model, configs, and the errors users meet."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor
from glassnet import layers as L
from glassnet.optimizers import SGD, Adam, Lion, Nadam, Optimizer
from glassnet.optimizers.schedules import (
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
    deserialize,
    one_cycle,
    serialize,
)

STEPS = [0, 1, 2, 5, 9, 10, 11, 25, 100, 1000]


# ----------------------------------------------------------------------------- the formulas
# Each expected value is Keras 3's documented formula (keras.optimizers.schedules), written out.
def test_exponential_decay() -> None:
    smooth = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    stairs = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    for step in STEPS:
        assert smooth(step) == pytest.approx(0.1 * 0.5 ** (step / 10), rel=1e-12)
        assert stairs(step) == pytest.approx(0.1 * 0.5 ** (step // 10), rel=1e-12)
    assert stairs(9) == 0.1 and stairs(10) == 0.05
    assert ExponentialDecay(1.0, 1, decay_rate=10.0)(10_000) == math.inf  # no OverflowError


def test_inverse_time_decay() -> None:
    smooth = InverseTimeDecay(0.1, decay_steps=5, decay_rate=0.5)
    stairs = InverseTimeDecay(0.1, decay_steps=5, decay_rate=0.5, staircase=True)
    for step in STEPS:
        assert smooth(step) == pytest.approx(0.1 / (1 + 0.5 * step / 5), rel=1e-12)
        assert stairs(step) == pytest.approx(0.1 / (1 + 0.5 * (step // 5)), rel=1e-12)


def test_polynomial_decay() -> None:
    def keras(step: float, cycle: bool) -> float:
        decay_steps = 10
        if cycle:
            decay_steps *= 1 if step == 0 else math.ceil(step / 10)
        else:
            step = min(step, 10)
        return (0.1 - 0.01) * (1 - step / decay_steps) ** 2.0 + 0.01

    flat = PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0)
    cycling = PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0, cycle=True)
    for step in STEPS:
        assert flat(step) == pytest.approx(keras(step, False), rel=1e-12)
        assert cycling(step) == pytest.approx(keras(step, True), rel=1e-12)
    assert flat(0) == pytest.approx(0.1) and flat(10) == flat(500) == pytest.approx(0.01)
    assert cycling(11) > cycling(10)  # a new, longer decay begins
    assert PolynomialDecay(1.0, 4)(2) == pytest.approx(0.5 * (1 - 0.0001) + 0.0001)  # defaults


def test_cosine_decay_without_warmup() -> None:
    cosine = CosineDecay(0.1, decay_steps=10, alpha=0.2)
    for step in STEPS:
        fraction = min(step, 10) / 10
        want = 0.1 * ((1 - 0.2) * 0.5 * (1 + math.cos(math.pi * fraction)) + 0.2)
        assert cosine(step) == pytest.approx(want, rel=1e-12)
    assert cosine(0) == pytest.approx(0.1) and cosine(10) == cosine(99) == pytest.approx(0.02)


def test_cosine_decay_with_warmup() -> None:
    # Keras 3: a straight line from initial_learning_rate to warmup_target over warmup_steps,
    # then the cosine from warmup_target down to alpha·warmup_target over decay_steps.
    cosine = CosineDecay(0.0, decay_steps=10, alpha=0.1, warmup_target=0.2, warmup_steps=5)
    for step in STEPS:
        s = min(step, 15)
        if s < 5:
            want = (0.2 - 0.0) * s / 5 + 0.0
        else:
            want = 0.2 * ((1 - 0.1) * 0.5 * (1 + math.cos(math.pi * (s - 5) / 10)) + 0.1)
        assert cosine(step) == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert [cosine(s) for s in range(6)] == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16, 0.2])
    assert cosine(15) == cosine(1000) == pytest.approx(0.02)
    # a target with no warm-up steps starts the decay from the target at once, as in Keras
    assert CosineDecay(0.01, 10, warmup_target=0.1)(0) == pytest.approx(0.1)


def test_piecewise_constant_decay() -> None:
    schedule = PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001])
    # values[0] up to and including boundaries[0], values[1] up to boundaries[1], then values[2]
    expected = {0: 0.1, 9: 0.1, 10: 0.1, 11: 0.01, 20: 0.01, 21: 0.001, 10_000: 0.001}
    assert {step: schedule(step) for step in expected} == expected
    assert PiecewiseConstantDecay([], [0.3])(50) == 0.3


# ----------------------------------------------------------------------------- in an optimizer
def test_each_step_uses_the_rate_at_iterations() -> None:
    # SGD moves by exactly η·g: the update size shows the rate each step used.
    schedule = PiecewiseConstantDecay([1, 3], [0.5, 0.1, 0.01])
    p = Tensor(np.zeros(1, dtype=np.float64), requires_grad=True)
    opt = SGD(schedule, params=[p])
    assert opt.learning_rate == 0.5 and opt.learning_rate_schedule is schedule
    moves, rates = [], []
    for _ in range(5):
        rates.append(opt.learning_rate)
        before = p.numpy().copy()
        p.grad = np.array([1.0])
        opt.step()
        moves.append(float(before[0] - p.numpy()[0]))
    # steps 0 and 1 (≤ boundary 1) use 0.5, steps 2-3 use 0.1, then 0.01
    assert rates == [0.5, 0.5, 0.1, 0.1, 0.01]
    np.testing.assert_allclose(moves, rates, rtol=1e-12)
    assert opt.iterations == 5 and opt.learning_rate == 0.01


def test_weight_decay_uses_the_scheduled_rate() -> None:
    p = Tensor(np.ones(1, dtype=np.float64), requires_grad=True)
    opt = SGD(PiecewiseConstantDecay([0], [0.5, 0.1]), weight_decay=0.2, params=[p])
    for _ in range(2):
        p.grad = np.zeros(1)
        opt.step()
    np.testing.assert_allclose(p.numpy(), [(1 - 0.5 * 0.2) * (1 - 0.1 * 0.2)], rtol=1e-12)


@pytest.mark.parametrize("cls", [Adam, Nadam, Lion])
def test_a_constant_schedule_equals_a_number(cls: type[Optimizer], rng: Any) -> None:
    init = [rng.standard_normal(5).astype(np.float32) for _ in range(2)]
    runs = []
    for rate in (0.01, PiecewiseConstantDecay([5], [0.01, 0.01])):
        params = [Tensor(w.copy(), requires_grad=True) for w in init]
        opt = cls(rate, weight_decay=0.1, params=params)
        for k in range(8):
            for p in params:
                p.grad = np.sin(p.numpy() + k)
            opt.step()
        runs.append([p.numpy() for p in params])
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_state_dict_records_the_rate_and_resume_continues_the_schedule() -> None:
    schedule = ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)

    def make() -> tuple[Tensor, Optimizer]:
        p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
        return p, Adam(schedule, params=[p])

    p, opt = make()
    for _ in range(3):
        p.grad = np.full(3, 0.5, dtype=np.float32)
        opt.step()
    state = opt.state_dict()
    assert float(state["learning_rate"]) == pytest.approx(0.1 * 0.5**1.5)
    state["learning_rate"] = np.array(123.0)  # a schedule recomputes it: the record is ignored
    q, resumed = make()
    q.data[...] = p.numpy()
    resumed.load_state_dict(state)
    assert resumed.iterations == 3 and resumed.learning_rate == opt.learning_rate
    for _ in range(3):
        for param, o in ((p, opt), (q, resumed)):
            param.grad = np.full(3, -0.25, dtype=np.float32)
            o.step()
    np.testing.assert_array_equal(p.numpy(), q.numpy())


def _regression(seed: int = 0) -> tuple[gn.Sequential, np.ndarray, np.ndarray]:
    gn.set_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x @ rng.standard_normal((4, 1))).astype(np.float32)
    model = gn.Sequential([L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1)])
    return model, x, y


class RecordRates(gn.callbacks.Callback):
    """The optimizer's learning rate before every training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.rates.append(self.model.optimizer.learning_rate)


def test_fit_steps_the_schedule_every_batch() -> None:
    model, x, y = _regression()
    schedule = CosineDecay(0.0, decay_steps=6, warmup_target=0.05, warmup_steps=4)
    model.compile(SGD(schedule, momentum=0.9), "mse")
    record = RecordRates()
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[record])  # 4 batches an epoch
    assert model.optimizer.iterations == 12
    assert record.rates == pytest.approx([schedule(k) for k in range(12)], rel=1e-12)
    assert record.rates[:5] == pytest.approx([0.0, 0.0125, 0.025, 0.0375, 0.05])
    assert model.optimizer.learning_rate == pytest.approx(0.0)  # the decay ended at step 10


@pytest.mark.parametrize("name", ["model.glassnet", "model.glassnet.zip"])
def test_a_schedule_is_saved_and_loaded_with_the_model(tmp_path: Any, name: str) -> None:
    model, x, y = _regression()
    schedule = PiecewiseConstantDecay([6, 10], [0.05, 0.02, 0.005])
    model.compile(Nadam(schedule, weight_decay=0.01), "mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / name
    model.save(path)
    loaded = gn.load_model(path)
    assert type(loaded.optimizer) is Nadam
    loaded_schedule = loaded.optimizer.learning_rate_schedule
    assert type(loaded_schedule) is PiecewiseConstantDecay
    assert loaded_schedule.get_config() == schedule.get_config()
    assert loaded.optimizer.iterations == 8
    assert loaded.optimizer.learning_rate == model.optimizer.learning_rate == 0.02
    # training goes on along the same schedule in both (past the boundary at step 10)
    for m in (model, loaded):
        m.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        assert m.optimizer.iterations == 12 and m.optimizer.learning_rate == 0.005
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-5, atol=1e-6)


def test_saved_config_is_keras_shaped(tmp_path: Any) -> None:
    model, x, y = _regression()
    model.compile(Adam(ExponentialDecay(0.01, 100, 0.9, staircase=True)), "mse")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.glassnet")
    config = json.loads((tmp_path / "m.glassnet" / "config.json").read_text())
    assert config["compile"]["optimizer"]["config"]["learning_rate"] == {
        "class_name": "ExponentialDecay",
        "config": {
            "initial_learning_rate": 0.01,
            "decay_steps": 100,
            "decay_rate": 0.9,
            "staircase": True,
            "name": "ExponentialDecay",
        },
    }


def test_compile_takes_keras_names_and_a_scheduled_optimizer() -> None:
    for name in ("adagrad", "adadelta", "adamax", "nadam", "lion"):
        model, x, y = _regression()
        model.compile(name, "mse")
        assert type(model.optimizer).__name__.lower() == name
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        assert model.optimizer.iterations == 2


# ----------------------------------------------------------------------------- configs
ALL_SCHEDULES = [
    ExponentialDecay(0.1, 1000, 0.96, staircase=True, name="decay"),
    InverseTimeDecay(0.1, 1.0, 0.5),
    PolynomialDecay(0.1, 500, end_learning_rate=0.0, power=0.5, cycle=True),
    CosineDecay(0.0, 1000, alpha=0.05, warmup_target=0.1, warmup_steps=100),
    PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1]),
]


@pytest.mark.parametrize("schedule", ALL_SCHEDULES, ids=lambda s: type(s).__name__)
def test_schedule_config_round_trip(schedule: LearningRateSchedule) -> None:
    saved = json.loads(json.dumps(serialize(schedule)))
    assert saved["class_name"] == type(schedule).__name__
    clone = deserialize(saved)
    assert type(clone) is type(schedule)
    assert clone.get_config() == schedule.get_config()
    assert type(schedule).from_config(schedule.get_config()).get_config() == saved["config"]
    assert [clone(s) for s in STEPS] == [schedule(s) for s in STEPS]
    assert repr(clone) == repr(schedule)


def test_optimizer_config_round_trip_with_a_schedule() -> None:
    opt = Lion(CosineDecay(1e-3, 100), weight_decay=0.3, name="lion_cos")
    config = json.loads(json.dumps(opt.get_config()))
    assert config["learning_rate"]["class_name"] == "CosineDecay"
    clone = Lion.from_config(config)
    assert clone.get_config() == opt.get_config()
    assert isinstance(clone.learning_rate_schedule, CosineDecay)
    assert repr(clone) == repr(opt) and "CosineDecay(initial_learning_rate=0.001" in repr(opt)


class HalvingEveryTestSchedule(LearningRateSchedule):
    """A schedule of a user's own, findable by name once defined."""

    def __init__(self, rate: float, every: int) -> None:
        self.rate, self.every = rate, every

    def __call__(self, step: int) -> float:
        return self.rate * 0.5 ** (step // self.every)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "every": self.every}


def test_a_custom_schedule_trains_saves_and_loads(tmp_path: Any) -> None:
    model, x, y = _regression()
    model.compile(SGD(HalvingEveryTestSchedule(0.02, every=3)), "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.optimizer.learning_rate == pytest.approx(0.02 * 0.5)
    model.save(tmp_path / "m.glassnet")
    loaded = gn.load_model(tmp_path / "m.glassnet")
    assert isinstance(loaded.optimizer.learning_rate_schedule, HalvingEveryTestSchedule)
    assert loaded.optimizer.learning_rate == model.optimizer.learning_rate
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'Elsewhere'"):
        deserialize({"class_name": "Elsewhere", "config": {}})
    custom = deserialize(
        {"class_name": "Elsewhere", "config": {"rate": 1.0, "every": 1}},
        custom_objects={"Elsewhere": HalvingEveryTestSchedule},
    )
    assert custom(2) == 0.25


def test_a_schedule_without_get_config_trains_but_cannot_be_saved() -> None:
    class NoConfigTestSchedule(LearningRateSchedule):
        def __call__(self, step: int) -> float:
            return 0.1

    opt = SGD(NoConfigTestSchedule())
    assert opt.learning_rate == 0.1
    assert "learning_rate=<NoConfigTestSchedule learning-rate schedule>" in repr(opt)
    with pytest.raises(NotImplementedError, match="must override get_config"):
        opt.get_config()
    with pytest.raises(NotImplementedError, match=r"must override __call__\(self, step\)"):
        SGD(LearningRateSchedule()).learning_rate  # noqa: B018


# ----------------------------------------------------------------------------- user errors
@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ExponentialDecay(-0.1, 10, 0.5), ValueError,
         r"ExponentialDecay: 'initial_learning_rate' must be a number >= 0\. Received: "
         r"initial_learning_rate=-0.1"),
        (lambda: ExponentialDecay(0.1, 0, 0.5), ValueError,
         r"ExponentialDecay: 'decay_steps' must be a number > 0\. Received: decay_steps=0"),
        (lambda: ExponentialDecay(0.1, 10, 0.0), ValueError, "'decay_rate' must be a number > 0"),
        (lambda: ExponentialDecay(0.1, 10, 0.5, staircase="yes"), TypeError,
         "'staircase' must be True or False"),
        (lambda: InverseTimeDecay(0.1, -5, 0.5), ValueError, "'decay_steps' must be a number > 0"),
        (lambda: InverseTimeDecay(0.1, 5, -0.5), ValueError, "'decay_rate' must be a number >= 0"),
        (lambda: PolynomialDecay(0.1, 10, power=0), ValueError, "'power' must be a number > 0"),
        (lambda: PolynomialDecay(0.1, 10, end_learning_rate=-1), ValueError,
         "'end_learning_rate' must be a number >= 0"),
        (lambda: CosineDecay(0.1, 0), ValueError,
         "CosineDecay: 'decay_steps' must be a number > 0"),
        (lambda: CosineDecay(0.1, 10, alpha=1.5), ValueError,
         r"CosineDecay: 'alpha' must be in \[0, 1\]\. Received: alpha=1.5"),
        (lambda: CosineDecay(0.0, 10, warmup_steps=5), ValueError,
         r"warmup_steps=5 needs 'warmup_target'.*Set warmup_target, or warmup_steps=0"),
        (lambda: CosineDecay(0.0, 10, warmup_target=-0.1, warmup_steps=5), ValueError,
         "'warmup_target' must be a number >= 0"),
        (lambda: CosineDecay(0.1, "10"), TypeError, "'decay_steps' must be a real number"),
        (lambda: PiecewiseConstantDecay([100, 200], [0.1, 0.01]), ValueError,
         r"PiecewiseConstantDecay: 'values' must have one more entry than 'boundaries'.*"
         r"Received 2 boundaries \[100, 200\] and 2 values \[0.1, 0.01\]\. Give 3 values, or "
         r"1 boundaries"),
        (lambda: PiecewiseConstantDecay([100], [0.1, 0.01, 0.001, 0.0001]), ValueError,
         "Received 1 boundaries"),
        (lambda: PiecewiseConstantDecay([200, 100], [0.1, 0.01, 0.001]), ValueError,
         r"'boundaries' must increase strictly, but boundaries\[1\]=100 follows 200.*Sort them"),
        (lambda: PiecewiseConstantDecay([100], [0.1, -0.01]), ValueError,
         r"'values\[1\]' must be a number >= 0\. Received: values\[1\]=-0.01"),
        (lambda: PiecewiseConstantDecay(100, [0.1, 0.01]), TypeError,
         "'boundaries' must be a list of numbers"),
        (lambda: ExponentialDecay(0.1, 10, 0.5)(-1), ValueError,
         r"the step must be a number >= 0 \(the optimizer's iterations count\)"),
        (lambda: deserialize({"config": {}}), ValueError, "expected {'class_name'"),
        (lambda: serialize(0.1), TypeError, "expected a LearningRateSchedule"),
        (lambda: ExponentialDecay.from_config({"initial_learning_rate": 0.1, "steps": 3}),
         ValueError, r"ExponentialDecay\.from_config: unknown key\(s\) \['steps'\]"),
    ],
)  # fmt: skip
def test_schedule_errors_name_the_culprit(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (lambda step: 0.1, r"Adam: 'learning_rate' must be a real number or a "
         r"LearningRateSchedule.*subclass glassnet\.optimizers\.schedules\.LearningRateSchedule"),
        (gn.callbacks.StepDecay(0.1), r"a per-epoch function goes to "
         r"callbacks\.LearningRateScheduler"),
        ("0.001", r"Received: learning_rate='0\.001' \(type str\)\.$"),
        (None, "must be a real number or a LearningRateSchedule"),
    ],
    ids=["function", "per-epoch-callable", "string", "none"],
)  # fmt: skip
def test_a_non_schedule_learning_rate_says_what_to_pass(value: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        Adam(value)


def test_a_scheduled_rate_cannot_be_set_to_a_number() -> None:
    opt = SGD(ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match=r"comes from a schedule \(ExponentialDecay\).*number"):
        opt.learning_rate = 0.01
    assert opt.learning_rate == 0.1
    opt.learning_rate = CosineDecay(0.2, 10)  # another schedule may replace it, as in Keras
    assert opt.learning_rate == pytest.approx(0.2)
    plain = SGD(0.1)
    plain.learning_rate = InverseTimeDecay(0.3, 1, 1.0)
    assert plain.learning_rate_schedule is not None and plain.learning_rate == 0.3


def test_a_schedule_that_gives_a_bad_rate_is_reported_at_the_step() -> None:
    class GoesNegativeTestSchedule(LearningRateSchedule):
        def __call__(self, step: int) -> float:
            return 0.1 - 0.1 * step

    class GivesTextTestSchedule(LearningRateSchedule):
        def __call__(self, step: int) -> Any:
            return "fast"

    p = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    opt = SGD(GoesNegativeTestSchedule(), params=[p])
    p.grad = np.ones(2, dtype=np.float32)
    opt.step()
    opt.step()  # rate 0 at step 1
    with pytest.raises(ValueError, match=r"gave -0\.1\d* at step 2; a learning rate must be"):
        opt.step()
    np.testing.assert_allclose(p.numpy(), [0.9, 0.9])
    with pytest.raises(TypeError, match=r"returned 'fast' at step 0; __call__\(step\) must"):
        SGD(GivesTextTestSchedule()).learning_rate  # noqa: B018


def test_one_cycle_is_a_cosine_decay_with_warm_up() -> None:
    """Peak/25 up to the peak over the first quarter, then half a cosine down to
    peak/(25·1e4): fast.ai's fit_one_cycle shape, saved as the CosineDecay it is."""
    schedule = one_cycle(0.002, total_steps=100)
    assert type(schedule) is CosineDecay
    assert schedule(0) == pytest.approx(0.002 / 25)
    assert schedule(25) == pytest.approx(0.002)
    assert schedule(10) == pytest.approx(0.002 / 25 + (0.002 - 0.002 / 25) * 10 / 25)
    assert schedule(100) == pytest.approx(0.002 / 25 / 1e4)
    rates = [schedule(s) for s in range(101)]
    assert rates.index(max(rates)) == 25
    assert all(a > b for a, b in itertools.pairwise(rates[25:]))
    again = deserialize(serialize(schedule))
    assert [again(s) for s in range(101)] == rates
    assert one_cycle(1.0, 10, warmup_share=0.0)(0) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_learning_rate": 0.0}, r"one_cycle: 'max_learning_rate' must be a number > 0"),
        ({"total_steps": 0}, r"one_cycle: 'total_steps'"),
        ({"warmup_share": 1.0}, r"'warmup_share' must be in \[0, 1\)"),
        ({"start_divisor": 0.5}, r"'start_divisor' must be >= 1"),
    ],
)
def test_one_cycle_argument_errors(kwargs: dict, match: str) -> None:
    arguments = {"max_learning_rate": 0.01, "total_steps": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        one_cycle(**arguments)
