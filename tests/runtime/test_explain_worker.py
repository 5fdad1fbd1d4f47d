"""ExplainWorker: newest request wins, one generation at a time, timeouts and failures counted."""
import threading
import time

import numpy as np
import pytest

from emotion_node.runtime.explain_worker import ExplainWorker

TOKENS = (np.zeros((4, 8), np.float32), np.zeros((6, 8), np.float32), np.zeros((2, 8), np.float32))


class FakeExplainer:
    """Records calls; can block on a gate, run into the deadline, or fail."""

    def __init__(self, mode="ok"):
        self.mode, self.calls, self.gate = mode, [], threading.Event()
        self.started = threading.Event()
        self.active, self.max_active = 0, 0
        self.lock = threading.Lock()

    def explain(self, tokens, label, cues, deadline, cancel):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.calls.append((label, cues))
        self.started.set()
        try:
            if self.mode == "block":
                self.gate.wait(5.0)
            if self.mode == "slow" or (self.mode == "fail_first_slow" and len(self.calls) > 1):
                while time.monotonic() <= deadline and not cancel.is_set():
                    time.sleep(0.005)
                raise TimeoutError("deadline")
            if self.mode == "fail" or (self.mode == "fail_first_slow" and len(self.calls) == 1):
                raise RuntimeError("LLM broke")
            return f"Emotion: {label}."
        finally:
            with self.lock:
                self.active -= 1


def _wait(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_newest_request_wins_and_one_generation_at_a_time():
    fake = FakeExplainer("block")
    worker = ExplainWorker(fake, timeout_s=5.0)
    try:
        worker.submit("a", *TOKENS, label="sad", cues="a0", stamp=1.0)
        assert fake.started.wait(2.0)  # busy on a0
        for i in range(1, 4):
            worker.submit("a", *TOKENS, label="sad", cues=f"a{i}", stamp=1.0 + i)
        worker.submit("b", *TOKENS, label="happy", cues="b0", stamp=9.0)
        assert worker.stats()["pending"] == 2 and worker.stats()["replaced"] == 2
        fake.gate.set()
        assert _wait(lambda: worker.stats()["completed"] == 3)
        assert [c for _, c in fake.calls] == ["a0", "a3", "b0"]  # a1, a2 superseded; a first
        assert fake.max_active == 1
        results = worker.poll_results()
        assert [(r.person_id, r.stamp) for r in results] == [("a", 1.0), ("a", 4.0), ("b", 9.0)]
        assert results[1].text == "Emotion: sad." and results[1].latency_s >= 0
        assert results[1].reading == ""  # a plain text answer brings no reading
        assert worker.poll_results() == []
    finally:
        worker.close()


def test_timeout_is_counted_and_the_worker_goes_on():
    fake = FakeExplainer("slow")
    worker = ExplainWorker(fake, timeout_s=0.2)
    try:
        start = time.monotonic()
        assert worker.submit("a", *TOKENS, label="sad")
        assert _wait(lambda: worker.stats()["timeouts"] == 1)
        assert time.monotonic() - start >= 0.18  # never before its timeout
        fake.mode = "ok"
        worker.submit("a", *TOKENS, label="tired")
        assert _wait(lambda: worker.stats()["completed"] == 1)
        assert worker.poll_results()[0].label == "tired"
        assert not worker.stats()["busy"] and worker.stats()["alive"]
    finally:
        worker.close()


def test_failures_are_counted_never_raised():
    fake = FakeExplainer("fail")
    worker = ExplainWorker(fake, timeout_s=1.0)
    try:
        for calls, person in enumerate(("a", "b"), start=1):
            worker.submit(person, *TOKENS, label="angry")
            assert _wait(lambda calls=calls: len(fake.calls) >= calls)
        assert _wait(lambda: worker.stats()["failed"] == 2)
        stats = worker.stats()
        assert "RuntimeError: LLM broke" in stats["last_error"] and stats["alive"]
        assert worker.poll_results() == []
    finally:
        worker.close()


def test_factory_failure_is_counted():
    def broken():
        raise OSError("no model here")

    worker = ExplainWorker(broken)
    assert _wait(lambda: not worker.stats()["alive"])
    assert worker.stats()["failed"] == 1 and "no model here" in worker.stats()["last_error"]
    assert not worker.stats()["ready"]
    worker.close()


class ClosableExplainer(FakeExplainer):
    def __init__(self):
        super().__init__()
        self.closed = threading.Event()

    def close(self):
        self.closed.set()


def test_the_worker_closes_what_its_factory_built_and_only_that():
    built = ClosableExplainer()
    worker = ExplainWorker(lambda: built)
    worker.submit("a", *TOKENS, label="sad")
    assert _wait(lambda: worker.stats()["completed"] == 1)
    assert not built.closed.is_set()
    worker.close()
    assert built.closed.is_set()

    handed_in = ClosableExplainer()
    worker = ExplainWorker(handed_in)
    assert _wait(lambda: worker.stats()["ready"])
    worker.close()
    assert not handed_in.closed.is_set()  # the caller owns it


def test_an_explainer_still_loading_at_close_is_closed_once_loaded():
    built, release = ClosableExplainer(), threading.Event()

    def slow_factory():
        release.wait(5.0)  # a child process still starting when the node shuts down
        return built

    worker = ExplainWorker(slow_factory)
    worker.close(timeout=0.05)
    assert not built.closed.is_set()
    release.set()
    assert _wait(built.closed.is_set)
    assert built.calls == []


def test_close_interrupts_and_refuses_new_work():
    fake = FakeExplainer("slow")
    worker = ExplainWorker(fake, timeout_s=30.0)
    worker.submit("a", *TOKENS, label="sad")
    assert fake.started.wait(2.0)
    start = time.monotonic()
    worker.close()
    assert time.monotonic() - start < 10.0 and not worker.stats()["alive"]  # not 30
    assert worker.submit("a", *TOKENS, label="sad") is False


def test_pending_slots_are_bounded():
    fake = FakeExplainer("block")
    worker = ExplainWorker(fake, max_pending=2)
    try:
        worker.submit("busy", *TOKENS, label="sad")
        assert fake.started.wait(2.0)
        for person in ("a", "b", "c"):
            worker.submit(person, *TOKENS, label="sad", cues=person)
        assert worker.stats()["dropped"] == 1 and worker.stats()["pending"] == 2
        fake.gate.set()
        assert _wait(lambda: worker.stats()["completed"] == 3)
        assert [c for _, c in fake.calls[1:]] == ["b", "c"]  # the oldest waiting slot went
    finally:
        worker.close()


@pytest.mark.parametrize("kwargs", [{"timeout_s": 0}, {"max_pending": 0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ExplainWorker(FakeExplainer(), **kwargs)
