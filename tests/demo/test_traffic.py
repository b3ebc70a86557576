"""The request mix and the tally printed at each phase change."""

from __future__ import annotations

import collections
import random

from tracelake.demo.services.inventory import CATALOG
from tracelake.demo.traffic import MIX, Requests, Tally


def test_the_mix_places_orders_looks_them_up_and_lists_items_in_its_proportions() -> None:
    requests = Requests(rng=random.Random(3))
    requests.placed.append("ord-1")
    kinds = collections.Counter()
    for _ in range(5000):
        method, path, body = requests.next()
        if method == "POST":
            assert path == "/orders" and body is not None and body["sku"] in CATALOG
            kinds["place_order"] += 1
        elif path == "/items":
            kinds["list_items"] += 1
        else:
            assert path == "/orders/ord-1"
            kinds["get_order"] += 1
    total = sum(MIX.values())
    for kind, weight in MIX.items():
        assert abs(kinds[kind] / 5000 - weight / total) < 0.03, kinds


def test_before_any_order_is_placed_a_lookup_becomes_a_new_order() -> None:
    requests = Requests(rng=random.Random(5))
    drawn = {(method, path) for method, path, _ in (requests.next() for _ in range(500))}
    assert drawn == {("POST", "/orders"), ("GET", "/items")}


def test_tally_sorts_answers_and_take_starts_again_from_zero() -> None:
    tally = Tally()
    tally.record(201, degraded=False)
    tally.record(201, degraded=True)
    tally.record(503, degraded=True)
    tally.record(None, degraded=False)
    tally.record(404, degraded=False)
    taken = tally.take()
    assert (taken.requests, taken.ok, taken.degraded, taken.failed) == (5, 2, 1, 2)
    assert str(taken) == "5 requests: 2 ok, 1 answered by a fallback, 2 failed"
    assert tally.take().requests == 0
