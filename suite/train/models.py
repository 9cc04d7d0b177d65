"""Model families: a registry of builders from validated settings to Keras 3 models.

Pure Keras 3 layers, so every backend builds the same network. A family is a
function ``(model settings, input shape, classes, augment) -> keras.Model``
registered with ``@family(name)``; the output layer returns logits. The schema
asks ``families()`` for the names while checking a study file, so this module
imports Keras inside the builders, never at import: validating a file must not
wake TensorFlow. ``m`` is always the study's validated ``model:`` block (``suite.study.Model``),
left unannotated so that this module, which the schema reads, imports nothing of it.
"""

from __future__ import annotations

from suite.train.registry import Family, Registry

FAMILIES = Registry("model family", entry=Family)  # model.family -> Family (its builder and what is known of it)
family = FAMILIES.register
families = FAMILIES.names


def build(m, input_shape: tuple[int, ...], classes: int, augment=None):
    return FAMILIES[m.family].build(m, input_shape, classes, augment)


def plugin_family(name: str) -> Family | None:
    """The plugin's family of that name (None for a built-in family or an unknown name)."""
    found = FAMILIES.get(name)
    return found if found is not None and found.plugin else None



def augmentation(x, augment):
    """Training-time augmentation as layers, so it runs on every backend and is off at evaluation."""
    import keras

    from suite.train.layers import RandomShift

    if augment is None:
        return x
    if augment.shift:
        x = RandomShift(augment.shift)(x)
    if augment.noise:
        x = keras.layers.GaussianNoise(augment.noise)(x)
    return x


def initializer(m):
    import keras

    if m.init == "normal":  # N(0, std^2): the classic "small random numbers" of the notes
        return keras.initializers.RandomNormal(mean=0.0, stddev=m.init_std)
    if m.init.startswith("normal:"):
        return keras.initializers.RandomNormal(mean=0.0, stddev=float(m.init.removeprefix("normal:")))
    return keras.initializers.get(m.init)


def regularizer(m):
    import keras

    if m.l1 == 0 and m.l2 == 0:
        return None
    return keras.regularizers.L1L2(l1=m.l1, l2=m.l2)


def max_norm(m, rank: int):
    """The max-norm constraint on a hidden layer's kernel of ``rank`` axes (Srivastava et al. 2014): each unit's
    incoming weights (every axis but the last, the units) rescaled after each update to an L2 norm of at most
    ``model.max_norm``; ``None`` without one."""
    import keras

    if m.max_norm is None:
        return None
    return keras.constraints.MaxNorm(max_value=m.max_norm, axis=list(range(rank - 1)) if rank > 2 else 0)


def normalization(m):
    import keras

    if m.normalization == "batch":
        return keras.layers.BatchNormalization()
    if m.normalization == "layer":
        return keras.layers.LayerNormalization()
    if m.normalization == "group":
        return keras.layers.GroupNormalization(groups=m.groups)
    return None


def block(x, layer, m, dropout, index: int):
    """layer -> normalization -> activation -> dropout (or layer -> dropout -> normalization -> activation),
    with a skip when residual.

    The activation layer is named ``hidden_<index>`` (from 1): the diagnostics find the blocks by it.
    """
    import keras

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


@family("mlp")
def mlp(m, input_shape: tuple[int, ...], classes: int, augment=None):
    import keras

    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(augmentation(inputs, augment))
    for i in range(1, m.depth + 1):
        dense = keras.layers.Dense(
            m.width,
            kernel_initializer=initializer(m),
            kernel_regularizer=regularizer(m),
            kernel_constraint=max_norm(m, 2),
            use_bias=m.normalization != "batch",  # batch norm's shift makes a bias redundant
        )
        x = block(x, dense, m, keras.layers.Dropout, i)
    outputs = keras.layers.Dense(classes, kernel_initializer=initializer(m), kernel_regularizer=regularizer(m))(x)
    return keras.Model(inputs, outputs, name="mlp")


@family("cnn")
def cnn(m, input_shape: tuple[int, ...], classes: int, augment=None):
    """1-D convolutions for sequences (MNIST-1D), 2-D for images; pooling (max or average) halves each stage,
    unless the convolutions are strided. The head flattens the last maps into the classifier, or averages each
    map to one value first (global average pooling, Lin et al. 2014: far fewer weights in the head)."""
    import keras

    spatial = len(input_shape)
    if spatial not in (1, 2):
        raise ValueError(f"cnn needs 1-D or 2-D inputs, got shape {input_shape}")
    conv = keras.layers.Conv1D if spatial == 1 else keras.layers.Conv2D
    pool = {("max", 1): keras.layers.MaxPooling1D, ("max", 2): keras.layers.MaxPooling2D,
            ("average", 1): keras.layers.AveragePooling1D, ("average", 2): keras.layers.AveragePooling2D}[m.pooling, spatial]
    head = keras.layers.GlobalAveragePooling1D if spatial == 1 else keras.layers.GlobalAveragePooling2D
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
            kernel_constraint=max_norm(m, spatial + 2),
            use_bias=m.normalization != "batch",
        )
        x = block(x, layer, m, dropout, i)
        if m.stride == 1 and min(x.shape[1:-1]) >= 2:  # strided convolutions downsample by themselves
            x = pool(2)(x)
    x = head()(x) if m.head == "global_average" else keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(classes, kernel_initializer=initializer(m), kernel_regularizer=regularizer(m))(x)
    return keras.Model(inputs, outputs, name="cnn")


@family("gru")
def gru(m, input_shape: tuple[int, ...], classes: int, augment=None):
    """A recurrent reader of a 1-D sequence, one value per step (MNIST-1D's GRU): every step's hidden state,
    flattened, feeds a linear classifier. ``depth`` stacks GRU layers of ``width`` units."""
    import keras

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

