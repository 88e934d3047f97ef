"""Fill in the blanks of a template: the house-prices example of the texts.

The texts describe machine learning in two steps:

    Step 1, the template:  price = __ * size + __ * stories + __ * distance to school
    Step 2, the learning:  look at many houses and find the numbers that fit them best,
                           for example (90.3, 1006.2, -40.5).

Here we do exactly that. We invent houses whose prices follow the rule

    price = 90.3 * size + 1006.2 * stories - 40.5 * distance + noise

(size in square metres, distance to the nearest school in metres), hide the rule, and let a
single neuron — ``Dense(1)``, a weighted sum plus a bias — find the blanks by gradient descent.

Run it:  python examples/house_prices.py  [--houses 1000] [--epochs 200]
"""

from __future__ import annotations

import argparse

import numpy as np

import glassnet as gn

# The rule we hide from the model; it has to find these three numbers again.
TRUE_BLANKS = {"size": 90.3, "stories": 1006.2, "distance": -40.5}


def make_houses(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` invented houses: features (n, 3) = size, stories, distance; prices (n,)."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(80, 250, n)  # square metres
    stories = rng.integers(1, 4, n).astype(float)  # 1, 2 or 3 floors
    distance = rng.uniform(10, 150, n)  # metres to the nearest school
    noise = rng.normal(0, 50, n)  # what the template cannot explain (view, garden, luck ...)
    price = (
        TRUE_BLANKS["size"] * size
        + TRUE_BLANKS["stories"] * stories
        + TRUE_BLANKS["distance"] * distance
        + noise
    )
    return np.stack([size, stories, distance], axis=1), price


def main(houses: int = 1000, epochs: int = 200, seed: int = 0, verbose: bool = True) -> dict:
    """Learn the three blanks from ``houses`` examples; returns them with the true values."""
    gn.set_seed(seed)
    x, price = make_houses(houses, seed)

    # Scale every column to mean 0 and spread 1. In the original units a size (about 150) and
    # a number of stories (about 2) differ a hundredfold, so one learning rate would be far too
    # large for one weight and far too small for another; plain gradient descent would either
    # blow up or crawl. On the scaled numbers one learning rate suits all three weights.
    x_mean, x_std = x.mean(axis=0), x.std(axis=0)
    p_mean, p_std = price.mean(), price.std()
    x_scaled = (x - x_mean) / x_std
    p_scaled = (price - p_mean) / p_std

    # The template: one neuron, no activation. Its three weights are the blanks (in scaled
    # units), and its bias absorbs the shift we made when we subtracted the means.
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(1)])
    # Gradient descent on the mean squared error. batch_size = all the houses: every step
    # looks at every house, which is gradient descent exactly as the texts describe it.
    model.compile(gn.optimizers.SGD(learning_rate=0.1), loss="mse")
    history = model.fit(
        x_scaled, p_scaled[:, None], epochs=epochs, batch_size=houses, shuffle=False, verbose=0
    )

    # Undo the scaling. The neuron computes
    #   p_scaled = w · (x - x_mean) / x_std + b,   and price = p_mean + p_std · p_scaled,
    # so in the original units the blank of column i is p_std · w_i / x_std_i.
    kernel, bias = model.get_weights()
    blanks = p_std * kernel[:, 0] / x_std
    intercept = p_mean + p_std * bias[0] - np.sum(blanks * x_mean)

    learnt = dict(zip(TRUE_BLANKS, blanks.tolist(), strict=True))
    errors = {k: abs(learnt[k] - TRUE_BLANKS[k]) / abs(TRUE_BLANKS[k]) for k in TRUE_BLANKS}
    if verbose:
        print(f"Learnt from {houses} houses in {epochs} steps of gradient descent")
        print(f"(loss on the scaled prices: {history.history['loss'][-1]:.5f}).")
        print()
        print("  template: price = __ * size + __ * stories + __ * distance")
        print(f"  {'blank':<10}{'true':>10}{'learnt':>10}{'error':>9}")
        for name in TRUE_BLANKS:
            print(
                f"  {name:<10}{TRUE_BLANKS[name]:>10.1f}{learnt[name]:>10.1f}"
                f"{100 * errors[name]:>8.2f}%"
            )
        print(f"  (the neuron's bias, in price units: {intercept:.1f}; the true rule has none)")
        print()
        sign = "-" if learnt["distance"] < 0 else "+"
        print(
            f"  price = {learnt['size']:.1f} * size + {learnt['stories']:.1f} * stories "
            f"{sign} {abs(learnt['distance']):.1f} * distance"
        )
    return {"learnt": learnt, "true": dict(TRUE_BLANKS), "errors": errors, "intercept": intercept}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--houses", type=int, default=1000, help="how many houses to learn from")
    parser.add_argument("--epochs", type=int, default=200, help="steps of gradient descent")
    parser.add_argument("--seed", type=int, default=0, help="random seed for data and weights")
    args = parser.parse_args()
    main(houses=args.houses, epochs=args.epochs, seed=args.seed)
