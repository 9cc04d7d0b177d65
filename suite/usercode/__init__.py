"""usercode: the user's own code, taken at its word or refused in one line.

Holds the plugin registry for the user's model families and datasets (``plugins``),
keras-tuner build functions turned into families (``hypermodel``), and the boundary
where the suite calls that code, so that whatever it raises names its file and line
(``boundary``). Imports ``train`` (the registries it adds to) and ``ground``.
"""
