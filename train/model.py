"""The Siamese design: one feature extractor shared by both branches, and a similarity model.

The embedding model takes a batch preprocessed per the model contract (float32, NHWC) and returns
L2-normalised embeddings; it is what export-model turns into ONNX. The similarity model reads two
embeddings and says same or different; the device matches by cosine, the similarity model is kept
for verification and reported beside it.
"""

from __future__ import annotations

import logging

import keras
from keras import layers

from .recipe import BACKBONES

log = logging.getLogger(__name__)

BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="siamface")
class L2Normalize(layers.Layer):
    def call(self, x):
        # The floor only guards a zero vector: a deep untrained body gives norms near 1e-6.
        return x / keras.ops.sqrt(keras.ops.maximum(keras.ops.sum(x * x, axis=-1, keepdims=True), 1e-30))


def _tiny(inputs):
    x = inputs
    for filters in (16, 32, 64, 96):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    return x


def _mobile(inputs, alpha: float, output_stride: int):
    # MobileNetV2 body without ImageNet weights: faces at 96-112 px, sized for a Pi CPU.
    body = keras.applications.MobileNetV2(input_tensor=inputs, include_top=False, weights=None, alpha=alpha)
    if output_stride == 32:
        return body.output

    # Face networks (MobileFaceNet, ArcFace's) end on a 7x7 map at 112 px; MobileNetV2's last stride
    # leaves 4x4 for the global depthwise convolution to tell face parts apart. Keras offers no
    # strides argument, so the body is rebuilt with its last stride-2 block at stride 1.
    def last_block_at_stride_1(layer):
        config = layer.get_config()
        if layer.name == "block_13_depthwise":
            config["strides"] = (1, 1)
        return layer.__class__.from_config(config)

    rebuilt = keras.models.clone_model(body, input_tensors=[inputs], clone_function=last_block_at_stride_1)
    return rebuilt.output


def _vgg16(inputs):
    try:
        body = keras.applications.VGG16(input_tensor=inputs, include_top=False, weights="imagenet")
    except Exception as exc:  # no network here: start from scratch rather than fail
        log.warning("VGG16 ImageNet weights unavailable (%s); training from random weights", str(exc).splitlines()[0])
        body = keras.applications.VGG16(input_tensor=inputs, include_top=False, weights=None)
    return body.output


def embedding_model(
    backbone: str, size: int, channels: int, embedding_size: int, alpha: float = 1.0, output_stride: int = 32
) -> keras.Model:
    inputs = keras.Input((size, size, channels), name="image")
    if output_stride != 32 and backbone != "mobile":
        raise ValueError(f"output_stride {output_stride} is for the mobile backbone only, not {backbone!r}")
    if backbone == "tiny":
        features = _tiny(inputs)
    elif backbone == "mobile":
        features = _mobile(inputs, alpha, output_stride)
    elif backbone == "vgg16":
        features = _vgg16(inputs)
    else:
        raise ValueError(f"backbone {backbone!r}, expected one of {', '.join(BACKBONES)}")
    # Global depthwise convolution keeps where features are on the face, unlike average pooling.
    h, w = features.shape[1], features.shape[2]
    x = layers.DepthwiseConv2D((h, w), padding="valid", use_bias=False, name="gdc")(features)
    x = layers.BatchNormalization()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(embedding_size, use_bias=False, name="embedding_dense")(x)
    x = layers.BatchNormalization(name="embedding_bn")(x)
    outputs = L2Normalize(name="embedding")(x)
    model = keras.Model(inputs, outputs, name=f"siamface_{backbone}")
    # keras.applications uses momentum 0.999: after a few hundred steps the running statistics are
    # still mostly their initial values and inference-mode embeddings collapse. 0.9 settles in ~50 steps.
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return model


def similarity_model(embedding_size: int) -> keras.Model:
    a = keras.Input((embedding_size,), name="embedding_a")
    b = keras.Input((embedding_size,), name="embedding_b")
    # Symmetric features, so the order of the two faces does not matter.
    x = layers.Concatenate()([keras.ops.abs(a - b), a * b])
    x = layers.Dense(64, activation="relu")(x)
    same = layers.Dense(1, activation="sigmoid", name="same")(x)
    return keras.Model([a, b], same, name="siamface_similarity")
