"""The LLM explainer in a child process, behind the `explain(...)` call the worker thread makes.

Generation is Python-heavy (one forward pass per token); in the node's own interpreter it would
compete with the inference tick for the interpreter lock and add milliseconds to every state.
In a child process it only competes for a core, with its own thread budget. The node side waits
on a pipe (no lock held), so the worker thread's one-at-a-time, newest-wins and timeout rules
stay as they are.
"""
from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from emotion_node.model.answers import Answer

LOAD_TIMEOUT_S = 300.0  # first load may convert the GGUF file into the local cache
CANCEL_GRACE_S = 5.0  # after a timeout, how long the child may take to stop generating
POLL_S = 0.05


def _serve(directory: str, threads: int, conn: Any, cancel: Any) -> None:
    """Child process: load the explainer, then answer (tokens, label, cues, deadline) requests."""
    import torch
    torch.set_num_threads(threads)
    try:
        from emotion_node.model.explainer import Explainer
        explainer = Explainer.load(directory)
    except Exception as err:  # noqa: BLE001 - reported to the parent, which logs it
        conn.send(('error', f'loading {directory} failed: {type(err).__name__}: {err}'))
        return
    conn.send(('ready', ''))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the node went away
        if request is None:
            return
        tokens, label, cues, deadline = request
        try:
            answer = explainer.explain(tokens, label=label, cues=cues, deadline=deadline,
                                       cancel=cancel)
            conn.send(('text', (answer.text, answer.reading)))
        except TimeoutError as err:
            conn.send(('timeout', str(err)))
        except Exception as err:  # noqa: BLE001 - an LLM failure is an answer, not a crash
            conn.send(('error', f'{type(err).__name__}: {err}'))


class ProcessExplainer:
    """`explain(tokens, label, cues, deadline, cancel)` served by a child process."""

    def __init__(self, directory: Path, threads: int = 1) -> None:
        ctx = multiprocessing.get_context('spawn')  # never fork a process that runs rclpy
        self._conn, child = ctx.Pipe()
        self._cancel = ctx.Event()
        self._proc = ctx.Process(target=_serve, args=(str(directory), threads, child,
                                                      self._cancel),
                                 name='emotion-explainer', daemon=True)
        self._proc.start()
        child.close()
        kind, detail = self._receive(time.monotonic() + LOAD_TIMEOUT_S) or ('error', 'no answer')
        if kind != 'ready':
            self.close()
            raise RuntimeError(f'explainer process: {detail}')

    def _receive(self, until: float, cancel: Any = None) -> Optional[tuple]:
        """The child's next message, or None at `until`, on `cancel`, or if it died."""
        while time.monotonic() < until and not (cancel is not None and cancel.is_set()):
            if self._conn.poll(POLL_S):
                try:
                    return self._conn.recv()
                except (EOFError, OSError):
                    return None
            if not self._proc.is_alive():
                return None
        return None

    def explain(self, tokens: Sequence[Any], label: Optional[str] = None, cues: Any = None,
                deadline: Optional[float] = None, cancel: Any = None) -> Answer:
        """Explain in the child (the text and the explainer's own reading); TimeoutError at the
        deadline, RuntimeError on its failure."""
        if not self._proc.is_alive():
            raise RuntimeError('the explainer process has stopped')
        until = deadline if deadline is not None else time.monotonic() + LOAD_TIMEOUT_S
        self._cancel.clear()
        self._conn.send((list(tokens), label, cues, until))
        answer = self._receive(until, cancel)
        if answer is None:
            self._cancel.set()  # stop the generation, then keep the pipe in step
            answer = self._receive(time.monotonic() + CANCEL_GRACE_S)
            if answer is None:
                self.close()
                raise RuntimeError('the explainer process did not stop after a timeout')
            raise TimeoutError('explanation stopped: deadline passed or worker closing')
        kind, value = answer
        if kind == 'text':
            text, reading = value
            return Answer(text, label, reading)
        if kind == 'timeout':
            raise TimeoutError(value)
        raise RuntimeError(value)

    def close(self) -> None:
        """Ask the child to finish, then make sure it has."""
        self._cancel.set()
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._proc.join(timeout=CANCEL_GRACE_S)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=CANCEL_GRACE_S)
        self._conn.close()
