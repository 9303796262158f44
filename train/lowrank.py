"""Data-aware low-rank factorisation of 3x3 convolutions, to a parameter budget.

A k x k convolution W (k*k*in -> out) becomes a k x k convolution to r channels and a 1 x 1
convolution back to out. Plain SVD of W keeps what W could do; fitted to the layer's real inputs
(the SVD of C^1/2 W, C the covariance of its input patches on real faces) it keeps what W does on
faces, which in dlib's deepest layers takes a small fraction of the rank. The ranks are shared out
greedily: each step of 8 goes to the layer whose output error it cuts most per parameter.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from siamface.edge.errors import SiamfaceError

STEP = 8


def _patches(x: np.ndarray, size: int, stride: int, same: bool) -> np.ndarray:
    """The layer's input as rows of k*k*in, in the order of a Keras kernel's first three axes."""
    if same:
        half = size // 2
        x = np.pad(x, ((0, 0), (half, half), (half, half), (0, 0)))
    n, h, w, c = x.shape
    oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    cols = np.empty((n, oh, ow, size, size, c), np.float32)
    for i in range(size):
        for j in range(size):
            cols[:, :, :, i, j, :] = x[:, i : i + stride * oh : stride, j : j + stride * ow : stride, :]
    return cols.reshape(-1, size * size * c)


def _spectrum(patches: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first factors, second factors, share of the output energy per rank), best rank first."""
    w = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)
    p = patches.astype(np.float64)
    cov = p.T @ p / len(p)
    values, vectors = np.linalg.eigh(cov)
    values = np.clip(values, values.max() * 1e-9, None)
    root = (vectors * np.sqrt(values)) @ vectors.T
    inverse_root = (vectors / np.sqrt(values)) @ vectors.T
    u, s, vt = np.linalg.svd(root @ w, full_matrices=False)
    return inverse_root @ u * s, vt, s**2 / (s**2).sum()


def check_split(x: np.ndarray, check: int | None) -> int:
    """Where the faces that only check begin: the last ``check`` of ``x``, by default its last quarter."""
    return len(x) - check if check is not None else len(x) * 3 // 4


def factorise(model, x: np.ndarray, budget: int, progress: bool = True, check: int | None = None):
    """A copy of ``model`` with at most ``budget`` parameters, its 3x3 convolutions of 256
    filters factorised; and a report (parameters, cosine of its embeddings to the original's on
    the last ``check`` faces of ``x`` (default a quarter), which the fit did not see)."""
    import keras
    from keras import layers

    split = check_split(x, check)
    fit, check = x[:split], x[split:]
    candidates = [
        layer
        for layer in model.layers
        if isinstance(layer, layers.Conv2D) and layer.kernel_size == (3, 3) and layer.filters >= 256
    ]
    # Every candidate's input in one pass over the faces, not one pass per layer.
    all_inputs = keras.Model(model.input, [layer.input for layer in candidates]).predict(fit, batch_size=32, verbose=0)
    found = {}
    for layer, inputs in tqdm(
        zip(candidates, all_inputs), total=len(candidates), desc="fitting factors", unit="layer", disable=not progress
    ):
        kernel, bias = layer.get_weights()
        patches = _patches(inputs, 3, layer.strides[0], layer.padding == "same")
        found[layer.name] = (kernel, bias, *_spectrum(patches, kernel))

    def cost(name: str, rank: int) -> int:
        kernel = found[name][0]
        return min(kernel.size, rank * (kernel.size // kernel.shape[-1] + kernel.shape[-1]))

    def error(name: str, rank: int) -> float:
        return float(found[name][4][rank:].sum())

    ranks = {name: STEP for name in found}
    total = model.count_params() - sum(found[n][0].size - cost(n, STEP) for n in found)
    if total > budget:
        raise SiamfaceError(f"--budget {budget:,}: below the {total:,} parameters of the smallest factorisation")
    while True:
        best, gain = None, 0.0
        for name, rank in ranks.items():
            if cost(name, rank) >= found[name][0].size:
                continue
            extra = cost(name, rank + STEP) - cost(name, rank)
            cut = error(name, rank) - error(name, rank + STEP)
            if total + extra <= budget and cut / max(extra, 1) > gain:
                best, gain = name, cut / max(extra, 1)
        if best is None:
            break
        total += cost(best, ranks[best] + STEP) - cost(best, ranks[best])
        ranks[best] += STEP

    factored = {n for n, r in ranks.items() if cost(n, r) < found[n][0].size}

    def clone(layer):
        if layer.name not in factored:
            return layer.__class__.from_config(layer.get_config())
        return keras.Sequential(
            [
                layers.Conv2D(ranks[layer.name], 3, strides=layer.strides, padding=layer.padding, use_bias=False),
                layers.Conv2D(layer.filters, 1),
            ],
            name=layer.name,
        )

    small = keras.models.clone_model(model, clone_function=clone)
    for layer in small.layers:
        if layer.name in factored:
            kernel, bias, first, second, _ = found[layer.name]
            r = ranks[layer.name]
            layer.layers[0].set_weights([first[:, :r].reshape(*kernel.shape[:3], r).astype(np.float32)])
            layer.layers[1].set_weights([second[:r][None, None].astype(np.float32), bias])
        else:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    a = model.predict(check, batch_size=32, verbose=0)
    b = small.predict(check, batch_size=32, verbose=0)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    report = {
        "parameters": small.count_params(),
        "teacher_parameters": model.count_params(),
        "ranks": {n: (ranks[n] if n in factored else None) for n in found},
        "mean_cosine": float(cosine.mean()),
        "min_cosine": float(cosine.min()),
    }
    return small, report


def refine(
    teacher,
    small,
    x: np.ndarray,
    epochs: int = 20,
    rate: float = 1e-4,
    batch: int = 64,
    progress: bool = True,
    check: int | None = None,
) -> dict:
    """Train ``small``'s layers from its first factorised one on to give ``teacher``'s embeddings.

    The layers before it are the teacher's own, so their output on ``x`` is computed once and the
    teacher's remaining layers give the targets: no labels, and each epoch costs only the deep,
    small-map end of the network. Fitted on ``x`` less its last ``check`` faces (default a quarter);
    returns the mean cosine to the teacher before and after, on those faces and on the rest, which shows
    how far it generalises (a little from 120 faces, 0.991 -> 0.993; more from 4,026, -> 0.997).
    """
    import keras
    import tensorflow as tf

    factored = [layer for layer in small.layers if isinstance(layer, keras.Sequential)]
    if not factored:
        raise SiamfaceError("nothing to refine: the model has no factorised layer")
    start = factored[0].input
    early, deep = keras.Model(small.input, start), keras.Model(start, small.output)
    inputs = early.predict(x, batch_size=32, verbose=0)
    targets = teacher.predict(x, batch_size=32, verbose=0)
    split = check_split(x, check)
    check = slice(split, None)

    def cosine(rows: slice) -> float:
        out = deep.predict(inputs[rows], batch_size=64, verbose=0)
        t = targets[rows]
        return float(np.mean((out * t).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(t, axis=1)))

    fit = slice(0, split)
    before = {"fit_cosine_before": cosine(fit), "check_cosine_before": cosine(check)}
    optimizer = keras.optimizers.Adam(rate)
    variables = deep.trainable_variables

    @tf.function
    def step(a, t):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.reduce_sum(tf.square(deep(a, training=False) - t), axis=1))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    rng = np.random.default_rng(0)
    for _ in tqdm(range(epochs), desc="refining", unit="epoch", disable=not progress):
        order = rng.permutation(split)
        for i in range(0, split - batch + 1, batch):
            rows = order[i : i + batch]
            step(tf.constant(inputs[rows]), tf.constant(targets[rows]))
    return {**before, "fit_cosine_after": cosine(fit), "check_cosine_after": cosine(check)}
