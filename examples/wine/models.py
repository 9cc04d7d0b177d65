"""A model family of our own for `suite run wine.yaml --plugin models.py`.

A "wide and deep" classifier for tables: a linear path straight from the inputs
beside a stack of dense blocks, the two summed into the logits.
"""

import keras

from suite import register_model


@register_model("wide_deep", settings={"units": 32, "blocks": 2, "dropout": 0.0})
def wide_deep(settings, input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(inputs)
    deep = x
    for _ in range(settings.blocks):
        deep = keras.layers.Dense(settings.units, activation=settings.activation)(deep)
        if settings.dropout:
            deep = keras.layers.Dropout(settings.dropout)(deep)
    logits = keras.layers.Add()([keras.layers.Dense(num_classes)(x), keras.layers.Dense(num_classes)(deep)])
    return keras.Model(inputs, logits, name="wide_deep")
