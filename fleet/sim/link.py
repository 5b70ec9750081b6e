"""The path from a simulated device to its SSH client: what the 'slow' and 'loss' faults do to it.

A slow or lossy rural link delays what the device sends, not how fast the device works: the CLI
handles each line as it arrives, and each chunk it writes (echo, banner, prompt, answer, exit
status, close, reset) leaves through a per-session FIFO:

- ``slow``: every chunk leaves delay_ms after it was written;
- ``loss``: a share (rate) of chunks waits for TCP retransmissions: 200 ms, doubling while the
  retransmission is lost too (at most 1.6 s each, six tries), drawn from a generator seeded per
  device so that a run is reproducible.

A chunk never overtakes an earlier one (TCP's head-of-line blocking), and a close or reset queued
after output goes out only after that output. With neither fault, writes go out at once.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleet.sim.faults import FaultKind

if TYPE_CHECKING:
    from fleet.sim.device import DeviceState

RTO_FIRST = 0.2  # Linux's minimum retransmission timeout
RTO_MAX = 1.6
RETRIES = 6  # a link that loses every segment stalls each chunk for seconds, not for ever


@dataclass(frozen=True, slots=True)
class LinkFaults:
    delay: float = 0.0  # seconds every chunk is late
    loss: float = 0.0  # share of transmissions lost


def faults_of(state: DeviceState) -> LinkFaults:
    """The link's conditions now (faults can be set and cleared while sessions are open)."""
    slow = state.faults.get(FaultKind.SLOW)
    loss = state.faults.get(FaultKind.LOSS)
    return LinkFaults(
        slow.number("delay_ms") / 1000 if slow is not None else 0.0,
        loss.number("rate") if loss is not None else 0.0,
    )


def lateness(faults: LinkFaults, rng: random.Random) -> float:
    """Seconds one chunk takes beyond an ideal link: the delay plus any retransmission stalls."""
    late, rto = faults.delay, RTO_FIRST
    if faults.loss > 0:
        for _ in range(RETRIES):
            if rng.random() >= faults.loss:
                break
            late += rto
            rto = min(rto * 2, RTO_MAX)
    return late


def stall_bounds(loss: float) -> tuple[float, float, float]:
    """(least, mean, longest) seconds one chunk waits for retransmissions at this loss rate."""
    rtos = [min(RTO_FIRST * 2**i, RTO_MAX) for i in range(RETRIES)]
    mean = sum(loss ** (i + 1) * rto for i, rto in enumerate(rtos))
    longest = sum(rtos) if loss > 0 else 0.0
    return (longest if loss >= 1 else 0.0), mean, longest


class Link:
    """One session's outgoing FIFO: each action runs when the link delivers it, in order."""

    def __init__(self, faults: Callable[[], LinkFaults], rng: random.Random) -> None:
        self._faults = faults
        self._rng = rng
        self._queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0  # when the latest queued action is due: later ones never go before it
        self._dropped = False

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def send(self, action: Callable[[], None]) -> None:
        if self._dropped:
            return
        late = lateness(self._faults(), self._rng)
        if late <= 0 and not self._queue:
            action()
            return
        loop = asyncio.get_running_loop()
        due = max(loop.time() + late, self._last)
        self._last = due
        self._queue.append((due, action))
        if self._timer is None:
            self._timer = loop.call_at(due, self._deliver)

    def _deliver(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._queue and self._queue[0][0] <= now and not self._dropped:
            _due, action = self._queue.popleft()
            action()
        if self._queue and not self._dropped:
            self._timer = loop.call_at(self._queue[0][0], self._deliver)

    def drop(self) -> None:
        """The connection is gone: nothing still queued goes out."""
        self._dropped = True
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
