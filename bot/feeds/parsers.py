"""Feeds and web pages parsed away from the event loop's process: in worker processes, with a deadline.

A parse holds its process's GIL for as long as one regular expression or C call runs, so even from a
thread it can stop the event loop (no /healthz, no deliveries, no webhooks). A worker process cannot.
A parse that overruns the deadline has its worker killed and replaced, and the feed fails as too slow:
backed off and noticed like any failing feed. Bodies under a threshold, which nothing linear can make
slow, are parsed in a thread: for them the trip to a process costs more than the parse.

A worker is `python -m bot.feeds.parsers`: it reads a job from stdin and writes the answer to stdout,
each as a length and a pickle. It imports only the parsers, not the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import signal
import struct
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from bot.errors import FetchError
from bot.feeds.parse import ParsedFeed, parse_feed

PARSE_DEADLINE = 30.0  # seconds a worker has for one feed or page; a 10 MB feed takes a few here
IN_THREAD_BELOW = 16 * 1024  # bytes: smaller bodies are parsed in a thread of this process
WORKERS = 2
_LENGTH = struct.Struct("!Q")
_READY = b"ready"
_STARTUP = 60.0  # seconds a new worker has to import the parser


class Parsers:
    """A few worker processes, started when first needed, each parsing one feed or page at a time."""

    def __init__(
        self, workers: int = WORKERS, deadline: float = PARSE_DEADLINE, in_thread_below: int = IN_THREAD_BELOW
    ):
        self.deadline = deadline
        self.in_thread_below = in_thread_below
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []

    async def parse(self, body: bytes, url: str, content_type: str | None) -> ParsedFeed:
        """parse_feed's answer; FetchError("too_slow") when it takes longer than the deadline."""
        return await self._run("feed", body, url, content_type)

    async def page_text(self, page: bytes, url: str) -> str | None:
        """extract.main_text's answer: a web page's main text; FetchError("too_slow") as for a feed."""
        return await self._run("page", page, url)

    async def _run(self, job: str, data: bytes, *args: Any) -> Any:
        if len(data) < self.in_thread_below:
            return await asyncio.to_thread(JOBS[job], data, *args)
        async with self._slots:
            worker = self._idle.pop() if self._idle else await _Worker.start()
            try:
                answer = await asyncio.wait_for(worker.ask((job, data, *args)), self.deadline)
            except BaseException as error:  # stopped mid-answer: its pipe cannot be trusted any more
                await worker.stop()
                if isinstance(error, TimeoutError):
                    raise FetchError("too_slow", f"parsing took over {self.deadline:g} s") from None
                if isinstance(error, OSError | asyncio.IncompleteReadError):
                    raise FetchError("parse", "the parsing process died on this input") from None
                raise
            self._idle.append(worker)
        if answer[0] == "failed":
            raise FetchError(*answer[1:])
        return answer[1]

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().stop()


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    @classmethod
    async def start(cls) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.feeds.parsers", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        worker = cls(process)
        try:
            assert process.stdout
            ready = await asyncio.wait_for(process.stdout.readexactly(len(_READY)), _STARTUP)
        except (TimeoutError, asyncio.IncompleteReadError):
            ready = b""
        if ready != _READY:
            await worker.stop()
            raise FetchError("parse", "the parsing process did not start")
        return worker

    async def ask(self, request: tuple[Any, ...]) -> Any:
        assert self.process.stdin and self.process.stdout
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.write(_LENGTH.pack(len(data)) + data)
        await self.process.stdin.drain()
        (size,) = _LENGTH.unpack(await self.process.stdout.readexactly(_LENGTH.size))
        return pickle.loads(await self.process.stdout.readexactly(size))  # our own child's answer

    async def stop(self) -> None:
        """Kill it, and wait until it is gone and its pipes are closed."""
        assert self.process.stdin
        self.process.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


def _page_text(page: bytes, url: str) -> str | None:
    from bot.feeds.extract import main_text  # imported by the workers that read a page: trafilatura is big

    return main_text(page, url)


JOBS: dict[str, Callable[..., Any]] = {"feed": parse_feed, "page": _page_text}


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """The worker's loop: a job in; ("done", its answer) or ("failed", a FetchError's kind and text) out."""
    answers.write(_READY)
    answers.flush()
    while header := requests.read(_LENGTH.size):
        (size,) = _LENGTH.unpack(header)
        job, *args = pickle.loads(requests.read(size))
        try:
            answer: tuple[Any, ...] = ("done", JOBS[job](*args))
        except FetchError as error:
            answer = ("failed", error.kind, str(error))
        except Exception as error:  # the jobs keep what they can: this is a bug of ours, say what
            answer = ("failed", "parse", f"could not process it: {type(error).__name__}")
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(_LENGTH.pack(len(data)) + data)
        answers.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the bot stops us
    serve(sys.stdin.buffer, sys.stdout.buffer)
