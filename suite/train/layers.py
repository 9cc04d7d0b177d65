"""Custom Keras 3 layers the model families use (backend-neutral: ``keras.ops`` and ``keras.random`` only)."""

from __future__ import annotations

import keras


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
