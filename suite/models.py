"""Model families: builders from validated settings to Keras 3 models.

Pure Keras 3 layers, so every backend builds the same network. A family is a
function ``(Model settings, input shape, classes) -> keras.Model`` registered in
``FAMILIES``; the output layer returns logits.
"""

from __future__ import annotations

import keras

from suite.study import Augment, Model


class RandomShift(keras.layers.Layer):
    """Circularly shift each example by a random offset along every spatial axis, in training only."""

    def __init__(self, max_shift: int, **kwargs):
        super().__init__(**kwargs)
        self.max_shift = max_shift
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, x, training=False):
        if not training:
            return x
        batch = keras.ops.shape(x)[0]
        for axis in range(1, len(x.shape)):  # (batch, length) or (batch, height, width)
            n = x.shape[axis]
            shift = keras.random.randint((batch,), -self.max_shift, self.max_shift + 1, seed=self.seed_generator)
            index = keras.ops.mod(keras.ops.arange(n)[None, :] - shift[:, None], n)  # (batch, n)
            if len(x.shape) == 3:  # images: the same offset for every row (or column)
                index = keras.ops.broadcast_to(keras.ops.expand_dims(index, 3 - axis), keras.ops.shape(x))
            x = keras.ops.take_along_axis(x, index, axis=axis)
        return x

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift}


def augmentation(x, augment: Augment | None):
    """Training-time augmentation as layers, so it runs on every backend and is off at evaluation."""
    if augment is None:
        return x
    if augment.shift:
        x = RandomShift(augment.shift)(x)
    if augment.noise:
        x = keras.layers.GaussianNoise(augment.noise)(x)
    return x


def initializer(m: Model):
    if m.init == "normal":  # N(0, std^2): the classic "small random numbers" of the notes
        return keras.initializers.RandomNormal(mean=0.0, stddev=m.init_std)
    if m.init.startswith("normal:"):
        return keras.initializers.RandomNormal(mean=0.0, stddev=float(m.init.removeprefix("normal:")))
    return keras.initializers.get(m.init)


def regularizer(m: Model):
    if m.l1 == 0 and m.l2 == 0:
        return None
    return keras.regularizers.L1L2(l1=m.l1, l2=m.l2)


def normalization(m: Model):
    if m.normalization == "batch":
        return keras.layers.BatchNormalization()
    if m.normalization == "layer":
        return keras.layers.LayerNormalization()
    if m.normalization == "group":
        return keras.layers.GroupNormalization(groups=m.groups)
    return None


def block(x, layer, m: Model, dropout, index: int):
    """layer -> normalization -> activation -> dropout (or layer -> dropout -> normalization -> activation),
    with a skip when residual.

    The activation layer is named ``hidden_<index>`` (from 1): the diagnostics find the blocks by it.
    """
    h = layer(x)
    if m.dropout > 0 and m.dropout_at == "before_norm":
        h = dropout(m.dropout)(h)
    norm = normalization(m)
    if norm is not None:
        h = norm(h)
    h = keras.layers.Activation(m.activation, name=f"hidden_{index}")(h)
    if m.dropout > 0 and m.dropout_at == "end":
        h = dropout(m.dropout)(h)
    if m.residual and x.shape[-1] == h.shape[-1]:
        h = keras.layers.Add()([x, h])
    return h


def mlp(m: Model, input_shape: tuple[int, ...], classes: int, augment: Augment | None = None) -> keras.Model:
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(augmentation(inputs, augment))
    for i in range(1, m.depth + 1):
        dense = keras.layers.Dense(
            m.width,
            kernel_initializer=initializer(m),
            kernel_regularizer=regularizer(m),
            use_bias=m.normalization != "batch",  # batch norm's shift makes a bias redundant
        )
        x = block(x, dense, m, keras.layers.Dropout, i)
    outputs = keras.layers.Dense(classes, kernel_initializer=initializer(m), kernel_regularizer=regularizer(m))(x)
    return keras.Model(inputs, outputs, name="mlp")


def cnn(m: Model, input_shape: tuple[int, ...], classes: int, augment: Augment | None = None) -> keras.Model:
    """1-D convolutions for sequences (MNIST-1D), 2-D for images; pooling halves each stage."""
    spatial = len(input_shape)
    if spatial not in (1, 2):
        raise ValueError(f"cnn needs 1-D or 2-D inputs, got shape {input_shape}")
    conv = keras.layers.Conv1D if spatial == 1 else keras.layers.Conv2D
    pool = keras.layers.MaxPooling1D if spatial == 1 else keras.layers.MaxPooling2D
    dropout = keras.layers.SpatialDropout1D if spatial == 1 else keras.layers.SpatialDropout2D
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Reshape((*input_shape, 1))(augmentation(inputs, augment))  # add a channel axis
    for i in range(1, m.depth + 1):
        layer = conv(
            m.width,
            m.kernel_size,
            strides=m.stride,
            padding="same",
            kernel_initializer=initializer(m),
            kernel_regularizer=regularizer(m),
            use_bias=m.normalization != "batch",
        )
        x = block(x, layer, m, dropout, i)
        if m.stride == 1 and min(x.shape[1:-1]) >= 2:  # strided convolutions downsample by themselves
            x = pool(2)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(classes, kernel_initializer=initializer(m), kernel_regularizer=regularizer(m))(x)
    return keras.Model(inputs, outputs, name="cnn")


def gru(m: Model, input_shape: tuple[int, ...], classes: int, augment: Augment | None = None) -> keras.Model:
    """A recurrent reader of a 1-D sequence, one value per step (MNIST-1D's GRU): every step's hidden state,
    flattened, feeds a linear classifier. ``depth`` stacks GRU layers of ``width`` units."""
    if len(input_shape) != 1:
        raise ValueError(f"gru needs 1-D sequences, got shape {input_shape}")
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Reshape((*input_shape, 1))(augmentation(inputs, augment))
    for i in range(1, max(m.depth, 1) + 1):
        layer = keras.layers.GRU(m.width, return_sequences=True, kernel_initializer=initializer(m),
                                 kernel_regularizer=regularizer(m))
        x = keras.layers.Bidirectional(layer, name=f"hidden_{i}")(x) if m.bidirectional else keras.layers.Activation(
            "linear", name=f"hidden_{i}")(layer(x))
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(classes, kernel_initializer=initializer(m), kernel_regularizer=regularizer(m))(x)
    return keras.Model(inputs, outputs, name="gru")


FAMILIES = {"mlp": mlp, "cnn": cnn, "gru": gru}


def build(m: Model, input_shape: tuple[int, ...], classes: int, augment: Augment | None = None) -> keras.Model:
    return FAMILIES[m.family](m, input_shape, classes, augment)
