"""The registry of secrets masked in logs: what it masks, what it forgets, against a naive model."""

from __future__ import annotations

import threading

from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.gc_pressure import finishes_while_collecting
from thedata.adapters.observability import REDACTED, KnownSecrets

# Mostly "a" and "b", so that secrets overlap and repeat in random text; the rest are
# characters that must survive slicing (two bytes, astral, a lone surrogate, a newline).
ALPHABET = "ab-é😀\udc80\n"
CHARACTERS = st.sampled_from("ab") | st.sampled_from(ALPHABET)


def naive_mask(text: str, secrets: set[str]) -> str:
    """``text`` with every character of every occurrence of a secret masked, found one by one."""
    spans = sorted(
        (start, start + len(secret))
        for secret in secrets
        for start in range(len(text))
        if text.startswith(secret, start)
    )
    pieces, done = [], 0
    for start, end in spans:
        if start < done:  # overlaps the span just masked: extend it
            done = max(done, end)
            continue
        pieces += [text[done:start], REDACTED]
        done = end
    return "".join(pieces) + text[done:]


def test_a_secret_inside_a_longer_string_is_masked() -> None:
    """A remembered value is found inside a word, a URL or a sentence, not only as a whole token."""
    known = KnownSecrets()
    known.remember("Xq9-pw")
    assert known.mask("login=adminXq9-pwZ failed") == f"login=admin{REDACTED}Z failed"


def test_the_longest_remembered_secret_wins() -> None:
    """When one secret contains another, the whole longer one is masked."""
    known = KnownSecrets()
    known.remember("abcd")
    known.remember("abcdefgh")
    assert known.mask("x abcdefgh y abcd z") == f"x {REDACTED} y {REDACTED} z"


def test_overlapping_secrets_are_masked_together() -> None:
    """Two secrets that overlap in a line leave no tail of either behind."""
    known = KnownSecrets()
    known.remember("abcdef12")
    known.remember("ef12ghij")
    assert known.mask("<abcdef12ghij>") == f"<{REDACTED}>"


def test_a_line_quoting_many_secrets_masks_each_of_them() -> None:
    """Fifty secrets in one line, overlapping in pairs, leave nothing of any behind."""
    known = KnownSecrets()
    secrets = [f"{n:02}-pw-{n:02}" for n in range(50)]
    for secret in secrets:
        known.remember(secret)
    known.remember("-pw-07 and 08-")  # straddles two of them
    masked = known.mask(" and ".join(secrets))
    assert masked == " and ".join([REDACTED] * 49)  # 07 and 08 went as one


def test_values_shorter_than_four_characters_are_not_remembered() -> None:
    """Masking ``id`` or ``abc`` would mangle ordinary words; four characters is the minimum."""
    known = KnownSecrets()
    known.remember("abc")
    known.remember(b"wxyz")
    assert known.mask("abc wxyz") == f"abc {REDACTED}"


def test_the_least_recently_handled_secret_is_forgotten_first() -> None:
    """Past the limit the secret handled longest ago goes; one handled again stays."""
    known = KnownSecrets(max_remembered=3)
    for secret in ("first", "second", "third"):
        known.remember(secret)
    known.remember("first")  # handled again: now the most recent
    known.remember("fourth")
    assert known.mask("first second third fourth") == " ".join(
        ["[REDACTED]", "second", "[REDACTED]", "[REDACTED]"]
    )
    assert len(known) == 3


def test_remembering_and_masking_from_many_threads_keeps_the_registry_whole() -> None:
    """Threads adding and masking at once leave exactly the limit remembered, each one masked."""
    known = KnownSecrets(max_remembered=500)
    secrets = [f"secret-{n:05}" for n in range(2_000)]

    def add(part: list[str]) -> None:
        for secret in part:
            known.remember(secret)
            known.mask(f"using {secret} and {secrets[0]}")

    threads = [threading.Thread(target=add, args=(secrets[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(known) == 500
    assert sum(known.mask(secret) == REDACTED for secret in secrets) == 500


# Digits never occur in the texts drawn here: remembered beside a few secrets, they make
# more than a few, so that the index of windows is searched rather than each value in turn.
DECOYS = frozenset(f"{n:04}" for n in range(40))


@st.composite
def texts_and_secrets(draw: st.DrawFn) -> tuple[str, set[str]]:
    """A text, and secrets mostly cut out of it so that they overlap and nest in it."""
    text = draw(st.text(CHARACTERS, max_size=30))
    secret = st.text(CHARACTERS, min_size=4, max_size=8)
    if len(text) >= 4:
        cut = st.tuples(st.integers(0, len(text) - 4), st.integers(4, 8))
        secret |= cut.map(lambda c: text[c[0] : c[0] + c[1]])
    secrets = draw(st.sets(secret, max_size=6))
    return text, secrets | DECOYS if draw(st.booleans()) else secrets


@settings(max_examples=500)
@example(("aaaaa", {"aaaa"}))  # a secret overlapping itself
@example(("aaaaa", {"aaaa"} | DECOYS))
@example(("aaaa-", {"aaaa", "aaa-"}))
@example(("<abcdef12ghij>", {"abcdef12", "ef12ghij"} | DECOYS))
@given(texts_and_secrets())
def test_masking_matches_a_naive_search_for_every_secret(case: tuple[str, set[str]]) -> None:
    """Whatever the secrets and the text, the result is what a search secret by secret gives."""
    text, secrets = case
    known = KnownSecrets()
    for value in secrets:
        known.remember(value)
    masked = known.mask(text)
    assert masked == naive_mask(text, secrets)
    for fragment in masked.split(REDACTED):
        assert not any(value in fragment for value in secrets)


class KnownSecretsMachine(RuleBasedStateMachine):
    """Random remembers and masks against a model: a list, least recently handled first."""

    LIMIT = 4

    def __init__(self) -> None:
        super().__init__()
        self.known = KnownSecrets(max_remembered=self.LIMIT)
        self.model: list[str] = []

    @rule(value=st.text(CHARACTERS, max_size=7))
    def remember(self, value: str) -> None:
        self.known.remember(value)
        if len(value) >= 4:
            if value in self.model:
                self.model.remove(value)
            self.model = [*self.model, value][-self.LIMIT :]

    @rule(data=st.data())
    def mask(self, data: st.DataObject) -> None:
        candidates = st.text(CHARACTERS, max_size=5)
        if self.model:
            candidates |= st.sampled_from(self.model)
        text = "".join(data.draw(st.lists(candidates, max_size=6)))
        assert self.known.mask(text) == naive_mask(text, set(self.model))

    @invariant()
    def remembers_what_the_model_does(self) -> None:
        assert len(self.known) == len(self.model)
        # and its index of first windows forgets with it, so memory stays bounded
        assert sum(sum(lengths.values()) for lengths in self.known._starts.values()) == len(
            self.model
        )


TestKnownSecretsMachine = KnownSecretsMachine.TestCase


def test_a_cleared_registry_masks_nothing_until_told_again() -> None:
    """``clear`` forgets every value (and its index): a value is masked again once remembered."""
    known = KnownSecrets()
    known.remember("hunter2-long")
    known.clear()
    assert known.mask("pw hunter2-long") == "pw hunter2-long"
    assert len(known) == 0
    known.remember("hunter2-long")
    assert "hunter2" not in known.mask("pw hunter2-long")


def test_a_finalizer_that_masks_while_the_registry_is_busy_does_not_hang_it() -> None:
    """The garbage collector can run a logging finalizer in the middle of ``remember`` or
    ``mask`` on the same thread: at every threshold from 1 to 30, both finish."""
    for threshold in range(1, 31):
        known, seen = KnownSecrets(), list[str]()
        known.remember("hunter22")

        def busy(known: KnownSecrets = known) -> None:
            for n in range(50):
                known.remember(f"secret-{n:04d}")
            known.mask("a line naming secret-0001 and hunter22 " * 20)

        def masks_a_line(known: KnownSecrets = known, seen: list[str] = seen) -> None:
            seen.append(known.mask("finalized with hunter22 inside"))

        finished = finishes_while_collecting(busy, masks_a_line, threshold)
        assert finished, f"the registry hung at threshold {threshold}"
        assert seen, threshold
        assert all("hunter22" not in line for line in seen)
