"""The plaintexts this process has handled, found in any text in one pass over it.

Each remembered value is indexed under its first four characters (the shortest
value remembered), with the lengths of the values that start so. Masking reads
every four-character window of the text once against that index, a hash lookup
whatever the number of secrets; only where a window starts a secret is the text
compared with the remembered values of those few lengths. Because any window
may start a secret, one inside a longer word, a URL or a sentence is found too
(splitting the text into tokens would miss ``password=hunter22``). Remembering
and forgetting update the index in place: there is nothing to rebuild.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

REDACTED = "[REDACTED]"
# Too short to mask without mangling ordinary words in log lines; also the window's width.
MIN_SECRET_LENGTH = 4
MAX_REMEMBERED = 10_000
# Up to this many values, asking whether any occurs in the text costs less than its windows.
_FEW = 32

Window = tuple[str, str, str, str]


def _windows(text: str) -> zip[Window]:
    """Every run of four characters in ``text``, in order, built in C (no loop in Python)."""
    return zip(text, text[1:], text[2:], text[3:], strict=False)


def _places(text: str, needle: str) -> Iterator[int]:
    """Every index at which ``needle`` starts in ``text``, overlapping ones too."""
    at = text.find(needle)
    while at != -1:
        yield at
        at = text.find(needle, at + 1)


class KnownSecrets:
    """Values that must never be logged, remembered as the secret store handles them.

    At most ``max_remembered`` are kept; past that, the one handled longest ago
    is forgotten. Thread-safe: the secret store may run in worker threads.
    """

    def __init__(self, max_remembered: int = MAX_REMEMBERED) -> None:
        self._max = max_remembered
        # re-entrant: the garbage collector may run a finalizer that logs (and so masks)
        # while this thread holds it; a plain lock would wait on itself for good
        self._lock = threading.RLock()
        self._values: OrderedDict[str, None] = OrderedDict()  # least recently handled first
        # first four characters -> {length of a value starting so: how many values}
        self._starts: dict[Window, dict[int, int]] = {}

    def __len__(self) -> int:
        return len(self._values)

    def remember(self, value: bytes | str) -> None:
        """Mask ``value`` from now on (text of at least four characters); O(its length)."""
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if len(text) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if text in self._values:
                self._values.move_to_end(text)
                return
            self._values[text] = None
            self._count(text, 1)
            if len(self._values) > self._max:
                oldest, _ = self._values.popitem(last=False)
                self._count(oldest, -1)

    def clear(self) -> None:
        """Forget every value (a fresh start, as for each test that reads log lines)."""
        with self._lock:
            self._values.clear()
            self._starts.clear()

    def mask(self, text: str) -> str:
        """``text`` with every character of every remembered value in it replaced; O(its length).

        Where two values overlap or one contains another, the whole stretch they
        cover becomes one marker, so no tail of either is left behind.
        """
        # an unlocked emptiness check: a value being remembered concurrently is not yet promised
        if len(text) < MIN_SECRET_LENGTH or not self._starts:
            return text
        spans = self._find(text)
        if not spans:
            return text
        pieces: list[str] = []
        done = 0
        for start, end in spans:  # in order of start
            if start < done:  # overlaps the stretch being masked: extend it
                done = max(done, end)
                continue
            pieces += (text[done:start], REDACTED)
            done = end
        pieces.append(text[done:])
        return "".join(pieces)

    def _find(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of the longest remembered value starting at each place that starts one."""
        with self._lock:
            if len(self._values) <= _FEW and not any(value in text for value in self._values):
                return []
            # the common case, no window starts a secret, stays in C: a set of the windows found
            found = self._starts.keys() & _windows(text)
            if not found:
                return []
            if len(found) <= _FEW:  # as a rule one or two: find where each is, in C
                starts = sorted(at for window in found for at in _places(text, "".join(window)))
            else:  # one pass in Python, so that many windows found cost no more than the text
                starts = [start for start, window in enumerate(_windows(text)) if window in found]
            spans = []
            for start in starts:
                window = (text[start], text[start + 1], text[start + 2], text[start + 3])
                for length in sorted(self._starts[window], reverse=True):
                    candidate = text[start : start + length]
                    if len(candidate) == length and candidate in self._values:
                        spans.append((start, start + length))
                        break
            return spans

    def _count(self, value: str, change: int) -> None:
        window: Window = (value[0], value[1], value[2], value[3])
        lengths = self._starts.setdefault(window, {})
        lengths[len(value)] = lengths.get(len(value), 0) + change
        if not lengths[len(value)]:
            del lengths[len(value)]
            if not lengths:
                del self._starts[window]
