"""Will they pass the driving test? A network with one small hidden layer, from the texts.

The texts' example: three inputs (age, sex, number of lessons), two hidden neurons with ReLU
— imagined as a "parking" score and a "road driving" score — and one output neuron whose
sigmoid gives the probability of passing. Person A (20, male, 10 lessons) was given 4.74 %,
person B (50, female, 20 lessons) 95.22 %.

The texts then admit the catch: nobody tells the hidden neurons to measure parking or road
driving. Training picks whatever intermediate features predict the answer best. This example
lets you see that: it invents applicants who pass by a stated rule, trains the 3 → 2 → 1
network, and prints the weights each hidden neuron learnt.

The rule behind the invented data (the network never sees it) has two parts, one per skill:

    parking:       you need at least 0.3 * age lessons (older learners need more practice)
    road driving:  you need at least 30 - 0.4 * age lessons (younger learners need more)
    you pass when you have enough lessons for both; sex makes no difference.

With only two hidden neurons, where training ends up depends on the random starting weights:
some starts find both thresholds of the rule, others settle for a simpler answer (right about
93 % of the time), and now and then a neuron "dies" (its ReLU outputs 0 for everyone, so it
stops learning). The usual remedy is used here: train a few times from different starting
weights and keep the network with the lowest loss on the training data (never choose by the
test data: that would be peeking). ``--restarts 1`` shows a single try.

Run it:  python examples/driving_test.py  [--people 2000] [--epochs 60] [--restarts 5]
"""

from __future__ import annotations

import argparse

import numpy as np

import glassnet as gn

FEATURES = ("age", "sex", "lessons")


def passes(age: np.ndarray, sex: np.ndarray, lessons: np.ndarray) -> np.ndarray:
    """The stated rule: 1 for a pass, 0 for a fail. ``sex`` is ignored on purpose."""
    parking_ok = lessons >= 0.3 * age
    road_ok = lessons >= 30 - 0.4 * age
    return (parking_ok & road_ok).astype(np.float32)


def make_people(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` invented applicants: features (n, 3) = age, sex (1 male, 0 female), lessons;
    labels (n, 1) = passed."""
    rng = np.random.default_rng(seed)
    age = rng.integers(17, 71, n).astype(float)
    sex = rng.integers(0, 2, n).astype(float)
    lessons = rng.integers(0, 41, n).astype(float)
    x = np.stack([age, sex, lessons], axis=1)
    return x, passes(age, sex, lessons)[:, None]


def build_and_train(x: np.ndarray, y: np.ndarray, epochs: int) -> tuple[gn.Sequential, float]:
    """One try: a fresh 3 -> 2 -> 1 network trained on (x, y); returns it and its final loss on
    the training data."""
    model = gn.Sequential(
        [
            gn.layers.Input((3,)),
            gn.layers.Dense(2, activation="relu", name="hidden"),  # the two hidden neurons
            gn.layers.Dense(1, activation="sigmoid", name="output"),  # probability of passing
        ]
    )
    model.compile(
        gn.optimizers.Adam(learning_rate=0.05), "binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    loss, _ = model.evaluate(x, y)
    return model, loss


def main(
    people: int = 2000, epochs: int = 60, restarts: int = 5, seed: int = 0, verbose: bool = True
) -> dict:
    """Train the 3 → 2 → 1 network (best of ``restarts`` tries); returns test accuracy, the
    two people's chances and the hidden neurons' weights (in the original units)."""
    gn.set_seed(seed)
    x, y = make_people(people, seed)
    n_train = int(0.8 * people)  # learn from 80 %, test on the 20 % the model never saw
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[n_train:], y[n_train:]

    # Bring each input to mean 0, spread 1 (ages near 40 and a 0/1 sex would otherwise need
    # very different step sizes). The model must get new people scaled the same way.
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)

    def scale(features: np.ndarray) -> np.ndarray:
        return (features - mean) / std

    # Each try starts from different random weights; keep the one that fits the training
    # data best.
    tries = [build_and_train(scale(x_train), y_train, epochs) for _ in range(restarts)]
    model, _ = min(tries, key=lambda t: t[1])
    loss, accuracy = model.evaluate(scale(x_test), y_test)
    if verbose and restarts > 1:
        losses = ", ".join(f"{t[1]:.3f}" for t in tries)
        print(f"Training loss of the {restarts} tries: {losses}; keeping the lowest.")

    # The texts' two people.
    people_ab = np.array([[20, 1, 10], [50, 0, 20]], dtype=float)
    chance_a, chance_b = model.predict(scale(people_ab))[:, 0]

    # Each hidden neuron computes relu(w_age * age + w_sex * sex + w_lessons * lessons + b) on
    # the scaled inputs. Dividing by the spread and moving the means into the bias gives the
    # same neuron in the original units, so the numbers can be read like the texts' formulas.
    kernel, bias = model.layers[0].get_weights()
    weights = kernel / std[:, None]  # (3 inputs, 2 neurons)
    biases = bias - mean @ weights

    if verbose:
        print(f"Accuracy on {len(x_test)} new applicants: {100 * accuracy:.1f} %")
        print(f"  (always guessing the commoner answer: {100 * _majority(y_test):.1f} %)")
        print()
        print(f"Person A, 20, male, 10 lessons:   {100 * chance_a:5.1f} % chance to pass")
        print(f"Person B, 50, female, 20 lessons: {100 * chance_b:5.1f} % chance to pass")
        print()
        print("What the two hidden neurons learnt (in years, 0/1 and lessons):")
        for j in range(2):
            print(f"  neuron {j + 1} = {_describe(weights[:, j], biases[j])}")
        print("Nobody told them what to measure. Compare with the rule: parking needs")
        print("0.3*age lessons, road driving 30 - 0.4*age, and sex should not matter.")
    return {
        "accuracy": float(accuracy),
        "loss": float(loss),
        "chance_a": float(chance_a),
        "chance_b": float(chance_b),
        "hidden_weights": weights,
        "hidden_biases": biases,
    }


def _describe(w: np.ndarray, b: float) -> str:
    """A hidden neuron as a formula, and rewritten around the number of lessons: a neuron
    relu(a*age + s*sex - c*lessons + b) with c > 0 is c * relu(threshold - lessons), "how many
    lessons short of a threshold that depends on age and sex"."""
    terms = " ".join(
        f"{'+' if wi >= 0 else '-'} {abs(wi):.2f}*{name}"
        for wi, name in zip(w, FEATURES, strict=True)
    )
    formula = f"relu({terms} {'+' if b >= 0 else '-'} {abs(b):.2f})".replace("relu(+ ", "relu(")
    c = w[2]  # the weight on lessons
    if abs(c) < 1e-3:
        return formula
    # relu(c*lessons + rest) = |c| * relu(rest/|c| - lessons) when c < 0,
    #                        =  c  * relu(lessons - (-rest/c)) when c > 0.
    sign = 1.0 if c < 0 else -1.0
    age, sex, const = sign * w[0] / abs(c), sign * w[1] / abs(c), sign * b / abs(c)
    threshold = f"{age:.2f}*age {'+' if sex >= 0 else '-'} {abs(sex):.2f}*sex"
    threshold += f" {'+' if const >= 0 else '-'} {abs(const):.1f}"
    if c < 0:
        reading = f"{abs(c):.2f} * relu(({threshold}) - lessons): lessons short of a threshold"
    else:
        reading = f"{c:.2f} * relu(lessons - ({threshold})): lessons beyond a threshold"
    return f"{formula}\n      = {reading}"


def _majority(y: np.ndarray) -> float:
    share = float(y.mean())
    return max(share, 1 - share)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000, help="invented applicants")
    parser.add_argument("--epochs", type=int, default=60, help="passes over the training data")
    parser.add_argument("--restarts", type=int, default=5, help="tries from new random weights")
    parser.add_argument("--seed", type=int, default=0, help="random seed for data and weights")
    args = parser.parse_args()
    main(people=args.people, epochs=args.epochs, restarts=args.restarts, seed=args.seed)
