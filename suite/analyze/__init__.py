"""analyze: from recorded trials to a verdict a person can read.

Owns per-cell summaries (``aggregate``), the statistics behind each verdict
(``verdict``), figures (``figures``), the study's report (``report``) and the
scorecard over every report (``scorecard``). Reads trials back through
``suite.record``; the statistics are pure functions over data frames.
"""
