"""A background thread that explains emotions with the LLM without ever blocking its caller.

One thread, one generation at a time. Each person has one request slot: a newer request replaces
an older one still waiting (the newest wins), and persons are served in the order their slot was
first filled. A generation past `timeout_s` stops and is counted, as is every failure; nothing is
raised into the caller. Results arrive through `poll_results()`.

The worker sets no thread budget: in the node the explainer is a child process
(`emotion_node.runtime.explain_process`) that sets its own, so generation never takes the cores of
the node's inference threads.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import numpy as np


@dataclass
class Explanation:
    """One finished explanation."""

    person_id: str
    label: str             # the label it explains, as submitted
    text: str
    reading: str           # the label the explainer read itself (a style; '' if none)
    stamp: float           # stamp of the window it explains (as submitted)
    latency_s: float       # submit -> result, including the wait in the queue
    generation_s: float    # time spent generating


@dataclass
class _Request:
    person_id: str
    tokens: tuple[np.ndarray, np.ndarray, np.ndarray]
    label: str
    cues: Any
    stamp: float
    submitted: float


class ExplainWorker:
    """Newest-request-wins explanation queue served by one background thread."""

    def __init__(self, explainer: Union[Any, Callable[[], Any]], timeout_s: float = 10.0,
                 max_pending: int = 64, max_results: int = 256) -> None:
        """`explainer`: an object with `explain(tokens, label, cues, deadline, cancel)` that
        returns the text or an answer with `text` and `reading`, or a zero-argument factory
        that builds one (called on the worker thread, so loading the LLM never blocks the
        caller)."""
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self._source, self._timeout = explainer, float(timeout_s)
        self._max_pending = max_pending
        self._pending: collections.OrderedDict[str, _Request] = collections.OrderedDict()
        self._results: collections.deque[Explanation] = collections.deque(maxlen=max_results)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._counts: collections.Counter[str] = collections.Counter()
        self._last_error = ""
        self._busy = False
        self._ready = False
        self._latencies: collections.deque[float] = collections.deque(maxlen=100)
        self._thread = threading.Thread(target=self._run, name="explain-worker", daemon=True)
        self._thread.start()

    # ---- caller side (never blocks on generation) -------------------------------------------
    def submit(self, person_id: str, temporal: np.ndarray, spatial: np.ndarray,
               semantic: np.ndarray, label: str, cues: Any = None, stamp: float = 0.0) -> bool:
        """Queue one request (replacing this person's waiting one); False once closed."""
        if self._stop.is_set():
            return False
        request = _Request(str(person_id), (np.array(temporal, dtype=np.float32),
                                            np.array(spatial, dtype=np.float32),
                                            np.array(semantic, dtype=np.float32)),
                           label, cues, float(stamp), time.monotonic())
        with self._cond:
            self._counts["submitted"] += 1
            if request.person_id in self._pending:
                self._counts["replaced"] += 1  # keeps its place in line, newest data wins
            elif len(self._pending) >= self._max_pending:
                self._pending.popitem(last=False)
                self._counts["dropped"] += 1
            self._pending[request.person_id] = request
            self._cond.notify()
        return True

    def poll_results(self) -> list[Explanation]:
        """Every explanation finished since the last poll, oldest first."""
        with self._cond:
            out = list(self._results)
            self._results.clear()
        return out

    def stats(self) -> dict[str, Any]:
        """Counters for diagnostics."""
        with self._cond:
            lat = list(self._latencies)
            out: dict[str, Any] = {k: int(self._counts[k]) for k in (
                "submitted", "replaced", "dropped", "completed", "failed", "timeouts")}
            out.update(pending=len(self._pending), busy=self._busy, ready=self._ready,
                       alive=self._thread.is_alive(), last_error=self._last_error,
                       mean_generation_s=float(np.mean(lat)) if lat else float("nan"))
        return out

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread (a running generation is interrupted, what the factory built is
        closed) and wait for it."""
        self._stop.set()
        with self._cond:
            self._pending.clear()
            self._cond.notify_all()
        self._thread.join(timeout)

    # ---- worker thread ----------------------------------------------------------------------
    def _next(self) -> Optional[_Request]:
        """Wait for the oldest waiting slot; None when closing."""
        with self._cond:
            while not self._pending and not self._stop.is_set():
                self._cond.wait(0.5)
            if self._stop.is_set():
                return None
            self._busy = True
            return self._pending.popitem(last=False)[1]

    def _fail(self, kind: str, error: str) -> None:
        with self._cond:
            self._counts[kind] += 1
            self._last_error = error

    def _load(self) -> Optional[Any]:
        """The explainer, built here if given a factory."""
        if hasattr(self._source, "explain"):
            return self._source
        try:
            return self._source()
        except Exception as err:  # noqa: BLE001 - any load failure is reported, never raised
            if not self._stop.is_set():  # a load cut short by closing is no failure
                self._fail("failed", f"loading the explainer failed: {err}")
            return None

    def _run(self) -> None:
        explainer = self._load()
        if explainer is None:
            return
        try:
            with self._cond:
                self._ready = True
            while (request := self._next()) is not None:
                self._serve(explainer, request)
        finally:
            # What the factory built is the worker's to release (a child process, say), also
            # when closing came while it was still loading; an explainer handed in is not.
            if explainer is not self._source and hasattr(explainer, "close"):
                try:
                    explainer.close()
                except Exception as err:  # noqa: BLE001 - closing must not raise either
                    self._fail("failed", f"closing the explainer failed: {err}")

    def _serve(self, explainer: Any, request: _Request) -> None:
        """Generate one explanation; count a timeout or failure instead of raising."""
        start = time.monotonic()
        try:
            answer = explainer.explain(request.tokens, label=request.label, cues=request.cues,
                                       deadline=start + self._timeout, cancel=self._stop)
        except TimeoutError as err:
            self._fail("timeouts", str(err))
            return
        except Exception as err:  # noqa: BLE001 - an LLM failure must never reach the caller
            self._fail("failed", f"{type(err).__name__}: {err}")
            return
        finally:
            with self._cond:
                self._busy = False
        done = time.monotonic()
        text, reading = (answer, "") if isinstance(answer, str) else \
            (answer.text, answer.reading or "")
        result = Explanation(request.person_id, request.label, text, reading, request.stamp,
                             done - request.submitted, done - start)
        with self._cond:
            self._counts["completed"] += 1
            self._latencies.append(result.generation_s)
            self._results.append(result)
