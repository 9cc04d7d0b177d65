"""A keras-tuner build function, as written for keras-tuner, searched by the suite.

`suite run examples/wine/wine_search.yaml --plugin examples/wine/search.py`: its hp.* calls
become the family's settings (model.hp.layers, model.hp.units_0, ...) and are searched per cell with
the study's tune: algorithm and budget. The suite compiles the model with the study's train:
block, and trains the last layer's output as logits (its softmax is dropped).
"""

import keras

from suite import register_model


@register_model("wine_search", hypermodel=True)
def build_model(hp):
    model = keras.Sequential([keras.Input(shape=(13,))])
    for i in range(hp.Int("layers", 1, 3)):
        model.add(keras.layers.Dense(hp.Int(f"units_{i}", 8, 64, step=8), activation=hp.Choice("activation", ["relu", "tanh"])))
    if hp.Boolean("dropout"):
        model.add(keras.layers.Dropout(0.25))
    model.add(keras.layers.Dense(3, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")), loss="sparse_categorical_crossentropy")
    return model
