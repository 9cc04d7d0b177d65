"""Which trials train together, and how many fit one group (suite.train.groups, suite.train.grouped): pure
arithmetic, no backend."""

import types

import pytest

from suite.train import grouped
from suite.train.groups import chunk


@pytest.mark.parametrize("n, most, widths", [
    (5, 256, [5]),  # room for all: one group, as wide as the plan
    (5, 2, [2, 2, 2]),  # three groups of two, the last one padded
    (10, 4, [4, 4, 4]),  # as few groups as the room allows (3), of one width
    (10, 6, [5, 5]),  # two groups: even halves, not 6 + 4
    (3, 1, [1, 1, 1]),
])
def test_a_plan_too_large_for_the_device_trains_as_few_groups_of_one_width(n, most, widths):
    members = list(range(n))
    found = {}
    for m in members:
        group, width, part = chunk(members, most, m)
        assert m in group and len(group) <= width <= most
        found[part or "1 of 1"] = (tuple(group), width)
    assert [w for _, w in found.values()] == widths
    assert sorted(m for group, _ in found.values() for m in group) == members  # each member in exactly one group


@pytest.mark.parametrize("n", range(1, 40))
def test_a_recorded_width_rebuilds_the_same_groups(n):
    """``suite replicate`` plans a recorded trial's cell again with the width its record names, on any machine."""
    members = list(range(n))
    for most in range(1, n + 2):
        width = chunk(members, most, 0)[1]
        assert all(chunk(members, width, m) == chunk(members, most, m) for m in members)


def _variables(*shapes):
    return [types.SimpleNamespace(shape=s) for s in shapes]


def test_a_group_holds_what_half_the_free_memory_allows_and_no_more_than_most():
    layers = [types.SimpleNamespace(output=types.SimpleNamespace(shape=(None, 100))) for _ in range(3)]
    model = types.SimpleNamespace(variables=_variables((100, 100), (100,)), layers=layers)
    optimizer = types.SimpleNamespace(variables=_variables((100, 100), (100,), (100, 100), (100,)))
    one = grouped.member_bytes(model, optimizer, batch=10)
    assert one == 4 * 2 * (2 * 10100 + 20200 + 10 * 300)
    assert grouped.capacity(model, optimizer, 10, free=one * 20) == 10  # half of room for 20
    assert grouped.capacity(model, optimizer, 10, free=one) == 1  # never less than one: a trial alone
    assert grouped.capacity(model, optimizer, 10, free=one * 10**6) == grouped.MOST
