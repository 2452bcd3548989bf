"""The consumer's own count of failed deliveries, beside the one JetStream reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from nats.aio.msg import Msg

from runtime.consumer import FailedDeliveries


@dataclass
class _Sequence:
    stream: int


@dataclass
class _Metadata:
    num_delivered: int
    sequence: _Sequence


@dataclass
class _Msg:
    metadata: _Metadata


def delivery(stream_sequence: int, reported: int) -> Msg:
    return cast(Msg, _Msg(_Metadata(reported, _Sequence(stream_sequence))))


def test_a_redelivery_reported_as_a_first_delivery_still_counts_as_the_third() -> None:
    # As JetStream 2.9.10 reported it: 1, 2, then 1 again after a delayed nak.
    counts = FailedDeliveries()
    assert [counts.count(delivery(7, n)) for n in (1, 2, 1)] == [1, 2, 3]


def test_the_servers_count_wins_when_it_is_larger_and_messages_are_counted_apart() -> None:
    counts = FailedDeliveries()
    assert counts.count(delivery(1, 4)) == 4  # failed in another replica before
    assert counts.count(delivery(2, 1)) == 1
    assert counts.count(delivery(1, 1)) == 5


def test_the_oldest_message_is_forgotten_past_the_bound() -> None:
    counts = FailedDeliveries(size=2)
    for sequence in (1, 2, 3):
        counts.count(delivery(sequence, 1))
    assert counts.count(delivery(1, 1)) == 1
    assert counts.count(delivery(3, 1)) == 2


def test_deliveries_lost_to_an_outage_do_not_count_against_the_budget() -> None:
    counts = FailedDeliveries()
    counts.excuse(delivery(9, 1))  # the first delivery ended while the database was unreachable
    counts.excuse(delivery(9, 2))
    assert counts.count(delivery(9, 3)) == 1  # the handler's first own failure
    assert counts.count(delivery(9, 4)) == 2
