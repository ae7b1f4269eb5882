"""Job threads take turns first come first served, and give the turn up while they wait."""
from __future__ import annotations

import threading

from certhook.turns import Turns, waiting

from .helpers import wait_for


def test_the_turn_goes_to_the_threads_in_the_order_they_asked() -> None:
    turns, ran = Turns(), []

    def take(n: int) -> None:
        with turns.turn():
            ran.append(n)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(6)]
    with turns.turn():
        for n, thread in enumerate(threads):
            thread.start()
            wait_for(lambda n=n: turns.queued() == n + 1, 5)  # type: ignore[misc]
    for thread in threads:
        thread.join(5)
    assert ran == list(range(6))


def test_a_thread_waiting_on_a_service_lets_another_take_its_turn() -> None:
    turns, said = Turns(), []
    waiting_now, other_done = threading.Event(), threading.Event()

    def calls_out() -> None:
        with turns.turn():
            said.append("first starts")
            with waiting():
                waiting_now.set()
                other_done.wait(5)
            said.append("first resumes")

    def other() -> None:
        waiting_now.wait(5)
        with turns.turn():
            said.append("other runs")
        other_done.set()

    threads = [threading.Thread(target=calls_out), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert said == ["first starts", "other runs", "first resumes"]


def test_outside_a_turn_waiting_does_nothing() -> None:
    turns = Turns()
    with waiting():  # a web request's call: no turn to give up
        pass
    with turns.turn():  # and the turn is free, and taken again after a wait inside it
        with waiting():
            assert turns.queued() == 0
        assert turns.queued() == 0
