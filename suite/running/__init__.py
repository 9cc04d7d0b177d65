"""running: one study driven through study -> search -> train -> record -> analyze.

Holds the choice of executor for each study (``executor``: grouped on JAX or alone, and why), the
runner (``runner``: resume, searches, trials, the report), the checks made before
anything trains (``preflight``: the plugins build, the data load) and the rerun of a
recorded trial on this machine (``replicate``). The commands in ``suite.cli`` call these.
"""
