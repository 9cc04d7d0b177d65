"""analyze: from recorded trials to a verdict a person can read.

Owns per-cell summaries (``aggregate``); the verdicts: every expectation judged by its kind's test
(``verdict``), the decision rule and the p-value adjustments (``decision``), the training record's
checks (``regime``: budget-limited arms, a cited finding's regime), the reviewer's design checks
(``design``) and seeds by power (``power``); the report: its verdict section and ``verdicts.json``
(``judgement``), its figures (``drawing`` gathers their data, ``figures`` draws them), the MLflow
descriptions (``notes``) and the report itself (``report``); judging again from files
(``rejudge``), fresh seeds against the original (``confirmation``) and the scorecard over every
report (``scorecard``). Reads trials back through ``suite.record``; the statistics of each kind of
expectation live in ``suite.kinds``.
"""
