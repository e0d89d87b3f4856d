"""The capacity table's arithmetic: what Flex Consumption bills for an instance's busy periods, and how many
instances target-based scaling runs for a queue of sessions."""

from __future__ import annotations

import pytest

from bench.capacity import billed_seconds, scaled_instances


@pytest.mark.parametrize(
    ("period", "billed"),
    [(0.05, 1.0), (0.999, 1.0), (1.0, 1.0), (1.01, 1.1), (1.1, 1.1), (2.34, 2.4), (125.0, 125.0)],
)
def test_a_busy_period_is_billed_for_a_second_at_least_then_in_steps_of_100_ms(period: float, billed: float) -> None:
    assert billed_seconds(period) == pytest.approx(billed)


@pytest.mark.parametrize(
    ("bookings", "slots", "maximum", "instances"),
    [(5000, 16, 40, 40), (5000, 16, 4, 4), (1000, 16, 100, 63), (12, 16, 40, 1), (1, 16, 4, 1)],
)
def test_scaling_asks_one_instance_per_session_slots_of_waiting_bookings_within_the_maximum(
    bookings: int, slots: int, maximum: int, instances: int
) -> None:
    assert scaled_instances(bookings, slots, maximum) == instances
