"""``make bench``: what the suite itself costs, measured (``suite.bench.make`` runs the parts and writes
results/bench/). Each part's module can run alone in a fresh process, importing only what it measures."""
