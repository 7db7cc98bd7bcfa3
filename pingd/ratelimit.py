"""A token-bucket rate limiter for the management API, per key or per client address.

Each identity has a bucket of ``burst`` tokens refilled at ``rate`` tokens per
second; a request takes one token or is refused with the wait until the next.
Buckets live in a bounded LRU map: a flood of distinct addresses evicts the
oldest buckets (which, being idle, were nearly full anyway) instead of growing
memory without end.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_BUCKETS = 10000


class RateLimiter:
    """Thread-safe token buckets keyed by an identity string."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self._rate = rate_per_second
        self._burst = burst
        self._clock = clock
        self._max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, identity: str) -> int:
        """Take a token for ``identity``; return 0, or the seconds to wait (at least 1)."""
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.pop(identity, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - stamp) * self._rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0
            else:
                wait = max(1, math.ceil((1.0 - tokens) / self._rate))
            self._buckets[identity] = (tokens, now)
            while len(self._buckets) > self._max_buckets:
                self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)
