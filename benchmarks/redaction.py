"""Log redaction: the cost of masking a logged string, and of remembering one more secret.

The registry of known secrets is measured as it is now (an index of four-character
windows) against the single alternation regex it replaced, kept below as the
baseline, in the same run and in alternating order, with 0, 1, 100 and 10,000
secrets known.
"""

from __future__ import annotations

import random
import re
import statistics
import string
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable
from typing import Protocol

from thedata.adapters.observability import KnownSecrets, redact, redaction
from thedata.adapters.observability.known_secrets import MAX_REMEMBERED, REDACTED

BUDGET = 0.2  # seconds of repetitions behind each figure of a round
PROCESS_REGISTRY = redaction.KNOWN_SECRETS


class Registry(Protocol):
    def remember(self, value: bytes | str) -> None: ...

    def mask(self, text: str) -> str: ...


class RegexKnownSecrets:
    """The registry before issue 9: one alternation of every secret, rebuilt after each new one."""

    def __init__(self) -> None:
        self._values: dict[str, None] = {}
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def remember(self, value: bytes | str) -> None:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if len(text) < 4:
            return
        with self._lock:
            if text in self._values:
                return
            self._values[text] = None
            if len(self._values) > MAX_REMEMBERED:
                del self._values[next(iter(self._values))]
            self._pattern = None

    def mask(self, text: str) -> str:
        with self._lock:
            if not self._values:
                return text
            if self._pattern is None:
                alternatives = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, alternatives)))
            pattern = self._pattern
        return pattern.sub(REDACTED, text)


IMPLEMENTATIONS: dict[str, Callable[[], Registry]] = {
    "before (one regex)": RegexKnownSecrets,
    "now (window index)": KnownSecrets,
}


def known_secrets(count: int) -> list[str]:
    """``count`` distinct random secrets of 8 to 64 URL-safe characters, the same every run."""
    rng = random.Random(12)  # noqa: S311 - the same sample every run, not a real secret
    alphabet = string.ascii_letters + string.digits + "-_"
    values: dict[str, None] = {}
    while len(values) < count:
        values["".join(rng.choices(alphabet, k=rng.randint(8, 64)))] = None
    return list(values)


def logged_strings(secret: str) -> list[str]:
    """Strings as they reach the redaction processor, 14 to about 2,000 characters."""
    frame = '  File "/srv/thedata/adapters/connectors/postgres.py", line 120, in connect\n'
    return [
        "connect failed",
        str(uuid.UUID(int=7)),
        "/srv/data/org-1/exports/2024/orders.csv",
        "data source check failed for host=db.internal port=5432 user=app dbname=warehouse: "
        "connection refused (is the server running and accepting TCP/IP connections?)",
        f"dsn is host=db.internal password={secret} sslmode=require",
        "Traceback (most recent call last):\n" + frame * 25 + "ConnectionError: refused",
    ]


def filled(make: Callable[[], Registry], secrets: list[str], texts: list[str]) -> Registry:
    registry = make()
    for secret in secrets:
        registry.remember(secret)
    for text in texts:  # the regex compiles on first use: not part of a logged string's cost
        registry.mask(text)
    return registry


def per_call(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds per call of ``action``, repeated for about BUDGET seconds."""
    calls, wall, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < BUDGET or calls == 0:
        action()
        calls += 1
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


def mask_all(registry: Registry, texts: list[str]) -> Callable[[], None]:
    def action() -> None:
        for text in texts:
            registry.mask(text)

    return action


def redact_event(registry: Registry, event: dict[str, object]) -> Callable[[], None]:
    def action() -> None:
        redaction.KNOWN_SECRETS = registry  # type: ignore[assignment]  # same methods, for the run
        try:
            redact(event)
        finally:
            redaction.KNOWN_SECRETS = PROCESS_REGISTRY

    return action


def remember_then_log(registry: Registry, text: str) -> Callable[[], None]:
    """Remember one new secret (the oldest is forgotten at the limit), then log one string."""
    counter = iter(range(10**9))

    def action() -> None:
        registry.remember(f"one-more-secret-{next(counter):09}")
        registry.mask(text)

    return action


def peak_memory(make: Callable[[], Registry], secrets: list[str], texts: list[str]) -> int:
    tracemalloc.start()
    try:
        filled(make, secrets, texts)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_redaction(rounds: int) -> None:
    """Print the per-string and per-secret costs, before and now, and their ratios."""
    secrets = known_secrets(MAX_REMEMBERED)
    texts = logged_strings(secrets[-1])
    event: dict[str, object] = dict(zip(("event", "id", "path", "error"), texts[3:], strict=False))
    # up to 32 secrets are searched one by one; past that the windows' cost is the same for all
    sizes = {"0": [], "1": secrets[-1:], "100": secrets[-100:], "10,000": secrets}
    registries = {
        (name, size): filled(make, known, texts)
        for name, make in IMPLEMENTATIONS.items()
        for size, known in sizes.items()
    }
    samples: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for n in range(rounds):
        for name in list(IMPLEMENTATIONS)[:: 1 if n % 2 == 0 else -1]:  # alternate who goes first
            for size in sizes:
                registry = registries[name, size]
                samples.setdefault((name, "string", size), []).append(
                    per_call(mask_all(registry, texts))
                )
                samples.setdefault((name, "event", size), []).append(
                    per_call(redact_event(registry, event))
                )
            samples.setdefault((name, "remember", "10,000"), []).append(
                per_call(remember_then_log(registries[name, "10,000"], texts[3]))
            )

    def us(name: str, kind: str, size: str = "10,000", *, cpu: bool = False) -> float:
        per = len(texts) if kind == "string" else 1
        return statistics.median(sample[cpu] for sample in samples[name, kind, size]) / per * 1e6

    def cells(name: str, kind: str) -> str:
        return "".join(
            f"{us(name, kind, size):11.1f} ({us(name, kind, size, cpu=True):.1f})" for size in sizes
        )

    before, now = IMPLEMENTATIONS
    print(f"redaction ({len(texts)} strings of 14-2,000 characters; median of {rounds} rounds)")
    for kind, title in (("string", "per logged string"), ("event", "per event, redact()")):
        print(f"µs {title} (CPU µs), with " + ", ".join(sizes) + " secrets known:")
        for name in IMPLEMENTATIONS:
            print(f"  {name:<20}{cells(name, kind)}")
    growth = us(now, "string") / us(now, "string", "100")
    print(f"ratio now, 10,000 known / 100 known     : {growth:8.2f}")
    speedup = us(before, "string") / us(now, "string")
    print(f"ratio before / now, 10,000 known        : {speedup:8.0f}")
    print("remember one more at 10,000, then log one string:")
    for name in IMPLEMENTATIONS:
        cpu = us(name, "remember", cpu=True)
        print(f"  {name:<20}{us(name, 'remember'):11.1f} µs (CPU {cpu:.1f} µs)")
    speedup = us(before, "remember") / us(now, "remember")
    print(f"ratio before / now, remember one more   : {speedup:8.0f}")
    for name, make in IMPLEMENTATIONS.items():
        peak = peak_memory(make, secrets, texts) / 2**20
        print(f"peak memory, 10,000 known + one pass, {name:<20}: {peak:6.1f} MiB")
