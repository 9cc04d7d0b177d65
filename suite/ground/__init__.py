"""ground: what every other package stands on, and imports nothing of the suite.

Holds the errors that become one line (``errors``), the console's progress lines and
quietness (``console``), the safe points where SIGTERM or Ctrl-C stops training
(``stopping``), the clock that times what a trial claims (``timing``), the field types
every study-file block is checked with (``fields``), and the one function that sets
what a process needs before it trains or draws (``process``).
"""
