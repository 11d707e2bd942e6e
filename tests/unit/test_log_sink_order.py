"""The log sink keeps lines whole and in the order they were written, even those written soon."""

from __future__ import annotations

import asyncio
import io
import os
import select
import subprocess
import sys
import textwrap
import threading

from hypothesis import given
from hypothesis import strategies as st

from tests.gc_pressure import finishes_while_collecting
from thedata.adapters.observability.sink import Sink


def _same(line: str) -> str:
    return line


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


_OPERATIONS = st.lists(st.sampled_from(["write", "write_soon", "turn", "flush"]), max_size=40)


@given(_OPERATIONS)
def test_lines_come_out_in_the_order_they_were_written(operations: list[str]) -> None:
    """Whatever mix of lines written now, lines written soon, turns of the event loop and
    flushes: the stream always holds a prefix of the lines in call order, and all of them
    after a line written now, a turn of the loop or a flush."""
    sink, stream = Sink(), io.StringIO()
    sink.replace_stream(stream)
    written: list[str] = []

    async def play() -> None:
        for n, operation in enumerate(operations):
            if operation == "write":
                written.append(f"{n} now")
                sink.write(written[-1])
            elif operation == "write_soon":
                written.append(f"{n} soon")
                sink.write_soon(_same, written[-1])
            elif operation == "turn":
                await asyncio.sleep(0)
            else:
                sink.flush()
            out = _lines(stream)
            assert out == written[: len(out)]
            if operation != "write_soon":
                assert out == written

    asyncio.run(play())
    sink.flush()
    assert _lines(stream) == written


def test_outside_an_event_loop_a_line_is_written_at_once() -> None:
    sink, stream = Sink(), io.StringIO()
    sink.replace_stream(stream)
    sink.write_soon(_same, "no loop here")
    assert _lines(stream) == ["no loop here"]


def test_a_line_whose_loop_stopped_before_writing_it_is_not_left_behind() -> None:
    """The loop that was to write a line stops (and closes) first: the next line written
    soon, from outside that loop, writes both."""
    sink, stream = Sink(), io.StringIO()
    sink.replace_stream(stream)
    loop = asyncio.new_event_loop()

    def last_step() -> None:
        sink.write_soon(_same, "from the stopped loop")
        loop.stop()  # the flush it scheduled would run at the next turn, which never comes

    loop.call_soon(last_step)
    loop.run_forever()
    loop.close()
    assert _lines(stream) == []
    sink.write_soon(_same, "later")
    assert _lines(stream) == ["from the stopped loop", "later"]


def test_a_new_stream_gets_only_new_lines() -> None:
    """Lines waiting when the stream changes go to the stream they were written for."""
    sink, old, new = Sink(), io.StringIO(), io.StringIO()
    sink.replace_stream(old)

    async def write_then_switch() -> None:
        sink.write_soon(_same, "for the old stream")
        sink.replace_stream(new)
        sink.write("for the new one")

    asyncio.run(write_then_switch())
    assert (_lines(old), _lines(new)) == (["for the old stream"], ["for the new one"])


def test_a_stream_that_fails_loses_lines_without_failing_the_caller() -> None:
    class Broken(io.StringIO):
        def write(self, _text: str) -> int:
            raise BrokenPipeError

    sink = Sink()
    sink.replace_stream(Broken())

    async def write() -> None:
        sink.write_soon(_same, "lost")
        await asyncio.sleep(0)
        sink.write("lost too")

    asyncio.run(write())
    good = io.StringIO()
    sink.replace_stream(good)
    sink.write("after the disk was freed")
    assert _lines(good) == ["after the disk was freed"]


_CHILD = textwrap.dedent(
    """
    import asyncio, os, sys
    from thedata.adapters.observability.sink import SINK
    SINK.replace_stream(sys.stdout)
    loop = asyncio.new_event_loop()
    def last_step():
        SINK.write_soon(str, "waiting at exit")
        loop.stop()
    loop.call_soon(last_step)
    loop.run_forever()
    if sys.argv[1] == "fork":
        child = os.fork()
        if child == 0:
            sys.exit(0)  # the parent's waiting line is the parent's to write, not this one's
        os.waitpid(child, 0)
    """
)


def test_lines_waiting_at_exit_are_written_once_even_after_a_fork() -> None:
    """A process that ends (or forks) while a line waits for a loop that will not turn
    again writes it at exit, and only once."""
    for mode in ("exit", "fork"):
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, mode],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert done.stdout.splitlines() == ["waiting at exit"], mode


def test_a_render_that_logs_does_not_hang_the_sink() -> None:
    """A render may log in turn (the garbage collector finalizing a future does): the
    sink renders outside its lock, so the inner line is written and nothing waits."""
    sink, stream = Sink(), io.StringIO()
    sink.replace_stream(stream)

    def render_that_logs(line: str) -> str:
        sink.write("logged while rendering")
        return line

    def in_a_loop() -> None:
        async def write() -> None:
            sink.write_soon(render_that_logs, "the access line")
            await asyncio.sleep(0)

        asyncio.run(write())

    thread = threading.Thread(target=in_a_loop, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the sink deadlocked on its own lock"
    assert sorted(_lines(stream)) == ["logged while rendering", "the access line"]


def test_a_line_that_cannot_be_rendered_leaves_the_others_of_its_batch() -> None:
    sink, stream = Sink(), io.StringIO()
    sink.replace_stream(stream)

    def fails(_line: str) -> str:
        raise ValueError("no")

    async def write() -> None:
        sink.write_soon(_same, "first")
        sink.write_soon(fails, "second")
        sink.write_soon(_same, "third")
        await asyncio.sleep(0)

    asyncio.run(write())
    first, second, third = _lines(stream)
    assert (first, third) == ("first", "third")
    assert "could not be rendered (ValueError)" in second


def test_a_thread_without_a_loop_does_not_wait_for_another_threads_loop() -> None:
    """While a loop's flush is pending, a line written soon from a plain thread is
    written at once (with the waiting ones before it)."""
    sink, stream = Sink(), io.StringIO()
    sink.replace_stream(stream)
    outside: list[list[str]] = []

    async def write() -> None:
        sink.write_soon(_same, "from the loop")
        thread = threading.Thread(target=lambda: sink.write_soon(_same, "from a thread"))
        thread.start()
        thread.join()
        outside.append(_lines(stream))

    asyncio.run(write())
    assert outside == [["from the loop", "from a thread"]]


class _Writes(io.StringIO):
    """Records each write the sink makes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


# long lines of any characters but newlines (other line breaks, non-ASCII, lone surrogates)
_LONG_BATCHES = st.lists(
    st.builds(
        lambda piece, times: (piece * times).replace("\n", " "),
        st.text(min_size=1, max_size=8),
        st.integers(min_value=40, max_value=400),
    ),
    min_size=25,
    max_size=40,
)


@given(_LONG_BATCHES)
def test_a_batch_goes_out_in_whole_lines_each_write_one_a_pipe_takes_whole(
    lines: list[str],
) -> None:
    """Several processes may share the stream (``serve --workers N``): a write of up to
    ``PIPE_BUF`` bytes to a pipe is never torn, so a batch is cut at line ends into
    writes of at most that size (a longer line alone)."""
    sink, stream = Sink(), _Writes()
    sink.replace_stream(stream)

    async def write() -> None:
        for line in lines:
            sink.write_soon(_same, line)
        await asyncio.sleep(0)

    asyncio.run(write())
    assert "".join(stream.writes) == "".join(line + "\n" for line in lines)
    for text in stream.writes:
        assert text.endswith("\n")
        size = len(text.encode("utf-8", "backslashreplace"))
        assert size <= select.PIPE_BUF or text.count("\n") == 1


def test_a_finalizer_that_logs_while_the_sink_writes_does_not_hang_it() -> None:
    """Collections run whenever enough objects are made, inside the sink's own work too:
    at every threshold from 1 to 40 (one of them lands inside it), the finalizer's line
    is written and nothing waits."""
    for threshold in range(1, 41):
        sink, stream = Sink(), io.StringIO()
        sink.replace_stream(stream)

        def write(sink: Sink = sink) -> None:
            sink.write("an access line é " * 60)  # long and not ASCII: the slow path

        def log_when_finalized(sink: Sink = sink) -> None:
            sink.write("finalized")

        finished = finishes_while_collecting(write, log_when_finalized, threshold)
        assert finished, f"the sink hung at threshold {threshold}"
        assert "finalized" in _lines(stream), threshold


def test_pieces_are_measured_in_the_streams_own_encoding() -> None:
    """A stream that escapes what it cannot encode (ASCII, backslashreplace) writes
    ``é`` as four bytes and an emoji as ten: pieces are cut by that size, not by UTF-8's."""

    class _AsciiWrites(_Writes):
        encoding = "ascii"

    sink, stream = Sink(), _AsciiWrites()
    sink.replace_stream(stream)

    async def write() -> None:
        for n in range(30):
            sink.write_soon(_same, f"{n} é€😀 " * 40)
        await asyncio.sleep(0)

    asyncio.run(write())
    assert len(stream.writes) > 1
    for text in stream.writes:
        assert len(text.encode("ascii", "backslashreplace")) <= select.PIPE_BUF
