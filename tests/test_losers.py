"""Stopping a losing search candidate early (suite.search.losers): the median rule, replayed on recorded curves and
applied by a group to its lanes epoch by epoch. Applied in real searches on both executors: tests/test_grouped.py."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def test_the_median_rule_stops_a_candidate_below_the_earlier_ones_median_and_never_the_best():
    from suite.search import losers

    rising = [0.1 * e for e in range(1, 21)]  # 0.1 .. 2.0
    curves = [rising, [v + 0.05 for v in rising], [v / 2 for v in rising], [v * 2 for v in rising], rising[:5]]
    # the first two: fewer than 2 earlier candidates; the third falls below their median from the first epoch it may
    # be judged at (10); the fourth is best, never stopped; the fifth ended before epoch 10
    assert losers.stops(curves, "max", after=10) == [None, None, 10, None, None]
    assert losers.stops([[3.0] * 12, [2.0] * 12, [9.0] * 12], "min", after=5) == [None, None, 5]  # a loss: lower wins
    assert losers.until_divergence([(0, 0.5), (1, 0.6), (2, 0.1)], [(0, 1.0), (1, 0.9), (2, float("nan"))]) == [0.5, 0.6]


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), max_size=14), min_size=1, max_size=7),
       st.integers(1, 6), st.integers(1, 3), st.sampled_from(["max", "min"]))
def test_a_group_judging_its_lanes_epoch_by_epoch_stops_what_the_replay_of_one_after_another_stops(curves, after, earlier,
                                                                                                  direction):
    """Lanes in lockstep (``groups.losing``, as a group applies a declared rule after each epoch) stop the candidates, at the
    epochs, that ``losers.stops`` finds replaying the same search one candidate after another. Each curve is what its lane
    would train unstopped; a shorter one ended by itself (patience, divergence), NaN is an epoch without a finite value.
    Two searches share the group (each its own seed), as a search per block of seeds does: neither sees the other."""
    from suite.search import losers
    from suite.train.groups import losing

    stop = losers.Stopping(losers.Median(after, earlier, direction), "val_accuracy")
    members = [(seed, 0.1 * (i + 1), None) for seed in (1, 2) for i in range(len(curves))]
    lanes = curves + curves[::-1]  # the second search: the same curves in the other order
    judge = losing(stop, members, 1)
    epochs = max(map(len, lanes)) + 1  # a cap the curves never reach: every end of a curve is its own
    so_far, active, ruled = [[] for _ in lanes], [True] * len(lanes), [None] * len(lanes)
    for e in range(1, epochs + 1):
        for i, c in enumerate(lanes):
            if active[i]:
                if e <= len(c):
                    so_far[i].append(c[e - 1])
                if e >= len(c):
                    active[i] = False  # its last epoch: it ends by itself
        if e < epochs:
            for i in judge([{"loss": [0.0] * len(h), "val_accuracy": h} for h in so_far], active):
                ruled[i], active[i] = e, False
    n = len(curves)
    assert ruled[:n] == losers.stops(curves, direction, after, earlier)
    assert ruled[n:] == losers.stops(curves[::-1], direction, after, earlier)
