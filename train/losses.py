"""Training objectives, combinable: pair loss, margin softmax, distillation (TensorFlow ops)."""

from __future__ import annotations

import keras
import tensorflow as tf


def batch_pairs(labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(positive mask, negative mask) over the batch's (i, j) pairs, i < j, for labelled faces."""
    labelled = labels >= 0
    both = tf.logical_and(labelled[:, None], labelled[None, :])
    upper = tf.linalg.band_part(tf.ones_like(both, tf.float32), 0, -1) - tf.eye(tf.shape(labels)[0])
    upper = upper > 0
    same = tf.equal(labels[:, None], labels[None, :])
    positive = tf.logical_and(tf.logical_and(same, both), upper)
    negative = tf.logical_and(tf.logical_and(tf.logical_not(same), both), upper)
    return positive, negative


def hard_negatives(similarity: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor) -> tf.Tensor:
    """The most similar negative pairs, as many as there are positives: balanced and hard.

    Too few same-person pairs teach a model to answer "different" always.
    """
    count = tf.reduce_sum(tf.cast(positive, tf.int32))
    scores = tf.where(negative, similarity, tf.fill(tf.shape(similarity), -10.0))
    flat = tf.reshape(scores, [-1])
    top = tf.math.top_k(flat, k=tf.minimum(count, tf.reduce_sum(tf.cast(negative, tf.int32)))).indices
    mask = tf.scatter_nd(top[:, None], tf.ones_like(top, tf.bool), tf.shape(flat, out_type=tf.int32))
    return tf.reshape(mask, tf.shape(similarity))


def _mean(x: tf.Tensor) -> tf.Tensor:
    """Mean that is 0, not NaN, over an empty set."""
    return tf.math.divide_no_nan(tf.reduce_sum(x), tf.cast(tf.size(x), x.dtype))


def balanced_bce(same: tf.Tensor, predicted: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy in which the same-person and the different-person pairs weigh half each."""
    p = tf.clip_by_value(predicted, 1e-7, 1.0 - 1e-7)
    per_pair = -(same * tf.math.log(p) + (1.0 - same) * tf.math.log(1.0 - p))
    return 0.5 * _mean(tf.boolean_mask(per_pair, same > 0.5)) + 0.5 * _mean(tf.boolean_mask(per_pair, same < 0.5))


def contrastive(similarity: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, margin: float = 0.3) -> tf.Tensor:
    """Pull same-person cosines to 1, push different-person cosines below ``margin``."""
    pos = tf.boolean_mask(similarity, positive)
    neg = tf.boolean_mask(similarity, negative)
    return _mean(tf.square(1.0 - pos)) + _mean(tf.square(tf.nn.relu(neg - margin)))


class MarginSoftmax(keras.layers.Layer):
    """ArcFace (additive angular margin) or CosFace (additive cosine margin) over identities; training only."""

    def __init__(self, classes: int, kind: str, scale: float = 32.0, margin: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes
        self.kind = kind
        self.scale = scale
        self.margin = margin if margin is not None else (0.3 if kind == "arcface" else 0.25)

    def build(self, input_shape):
        self.centres = self.add_weight(
            shape=(input_shape[-1], self.classes),
            initializer=keras.initializers.RandomNormal(stddev=0.01, seed=7),
            name="class_centres",
        )

    def call(self, embeddings: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        labelled = labels >= 0
        e = tf.boolean_mask(embeddings, labelled)
        y = tf.boolean_mask(labels, labelled)
        cos = tf.matmul(e, tf.math.l2_normalize(self.centres, axis=0))
        cos = tf.clip_by_value(cos, -1.0 + 1e-6, 1.0 - 1e-6)
        onehot = tf.one_hot(y, self.classes)
        target = tf.cos(tf.acos(cos) + self.margin) if self.kind == "arcface" else cos - self.margin
        logits = self.scale * tf.where(onehot > 0, target, cos)
        return _mean(tf.nn.softmax_cross_entropy_with_logits(onehot, logits))


def distillation(embeddings: tf.Tensor, targets: tf.Tensor, has_target: tf.Tensor) -> tf.Tensor:
    """1 - cosine to the teacher's embedding, over faces that have one."""
    e = tf.boolean_mask(embeddings, has_target)
    t = tf.boolean_mask(targets, has_target)
    return _mean(1.0 - tf.reduce_sum(e * t, axis=1))


def band(similarity: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, low: float, high: float) -> tf.Tensor:
    """Same-person cosines below ``high`` pulled up to it, different-person ones above ``low`` pushed
    down to it; pairs already on their side of the band cost nothing, so a network that already
    tells most people apart keeps its geometry where it works."""
    pos = tf.boolean_mask(similarity, positive)
    neg = tf.boolean_mask(similarity, negative)
    return _mean(tf.square(tf.nn.relu(high - pos))) + _mean(tf.square(tf.nn.relu(neg - low)))
