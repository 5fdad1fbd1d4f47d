"""The LLM explainer in a child process, behind the `explain(...)` call the worker thread makes.

Generation is Python-heavy (one forward pass per token); in the node's own interpreter it would
compete with the inference tick for the interpreter lock and add milliseconds to every state.
In a child process it only competes for a core, with its own thread budget and nice level. The
node side waits on a pipe (no lock held), so the worker thread's one-at-a-time, newest-wins and
timeout rules stay as they are.

The child belongs to the node: it ignores SIGINT (Ctrl-C in a terminal or `ros2 launch` sends it
to the whole process group; the node ends the child itself, through the pipe, when it shuts
down), and what it has to say (warnings, library log records) goes to the parent's logger
instead of its own stderr, so a launch log holds log lines only (no progress bars).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from emotion_node.model.answers import Answer

LOAD_TIMEOUT_S = 300.0  # first load may convert the GGUF file into the local cache
CANCEL_GRACE_S = 5.0  # after a timeout, how long the child may take to stop generating
POLL_S = 0.05
LOG_LEVELS = {logging.DEBUG: 'debug', logging.INFO: 'info', logging.WARNING: 'warning',
              logging.ERROR: 'error', logging.CRITICAL: 'error'}


class _ToParent(logging.Handler):
    """Sends the child's log records (transformers' and warnings) to the parent."""

    def __init__(self, conn: Any) -> None:
        super().__init__(logging.WARNING)
        self._conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        level = LOG_LEVELS.get(record.levelno, 'warning')
        try:
            self._conn.send(('log', level, f'explainer process: {record.getMessage()}'))
        except (OSError, ValueError):
            pass  # the parent is gone; nothing to tell


def _quiet(conn: Any) -> None:
    """Route warnings and transformers' logging to the parent; no progress bars."""
    os.environ.setdefault('HF_HUB_DISABLE_PROGRESS_BARS', '1')
    try:
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
        hf_logging.disable_default_handler()  # its stderr handler; ours follows
    except ImportError:
        pass  # loading will say what is missing
    logging.captureWarnings(True)
    handler = _ToParent(conn)
    for name in ('py.warnings', 'transformers', 'peft', 'torch'):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.propagate = False


def _serve(directory: str, threads: int, nice: int, conn: Any, cancel: Any) -> None:
    """Child process: load the explainer, then answer (tokens, label, cues, deadline) requests."""
    # SIGINT was blocked by the parent around the start, so none is lost before this line.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if nice > 0:
        os.nice(nice)
    try:
        _quiet(conn)
        import torch
        torch.set_num_threads(threads)
        from emotion_node.model.explainer import Explainer
        explainer = Explainer.load(directory)
        if explainer.config.decoding == 'grammar':  # its tables at loading, not on a request
            from emotion_node.model.answers import guidance_tokenizer
            guidance_tokenizer(explainer)
    except Exception as err:  # noqa: BLE001 - reported to the parent, which logs it
        _send(conn, ('error', f'loading {directory} failed: {type(err).__name__}: {err}'))
        return
    if not _send(conn, ('ready', '')):
        return
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the node went away
        if request is None:
            return
        tokens, label, cues, deadline = request
        answer: tuple  # (kind, value) for the parent
        try:
            result = explainer.explain(tokens, label=label, cues=cues, deadline=deadline,
                                       cancel=cancel)
            answer = ('text', (result.text, result.reading))
        except TimeoutError as err:
            answer = ('timeout', str(err))
        except Exception as err:  # noqa: BLE001 - an LLM failure is an answer, not a crash
            answer = ('error', f'{type(err).__name__}: {err}')
        if not _send(conn, answer):
            return


def _send(conn: Any, message: tuple) -> bool:
    """Send to the parent; False when it is gone (the child then ends quietly)."""
    try:
        conn.send(message)
        return True
    except (OSError, ValueError):
        return False


def _log_to(logger: Any) -> Callable[[str, str], None]:
    """(level, text) -> the logger's method of that level (an rclpy or a logging logger)."""
    fallback = logging.getLogger('emotion_node.explainer')

    def log(level: str, text: str) -> None:
        target = logger if logger is not None else fallback
        getattr(target, level, target.warning)(text)
    return log


class ProcessExplainer:
    """`explain(tokens, label, cues, deadline, cancel)` served by a child process.

    `threads`: the child's torch threads; `nice`: its nice level (above 0 it yields the CPU to
    the node); `cancel`: an event that, set while the child is still loading, ends it at once
    (a node shutting down does not wait for the LLM to load); `logger`: where the child's
    warnings go (default: Python logging).
    """

    def __init__(self, directory: Path, threads: int = 1, nice: int = 0, cancel: Any = None,
                 logger: Any = None) -> None:
        ctx = multiprocessing.get_context('spawn')  # never fork a process that runs rclpy
        self._log = _log_to(logger)
        self._conn, child = ctx.Pipe()
        self._cancel = ctx.Event()
        self._proc = ctx.Process(target=_serve, args=(str(directory), threads, nice, child,
                                                      self._cancel),
                                 name='emotion-explainer', daemon=True)
        # The child inherits this thread's signal mask: SIGINT stays blocked until it has
        # chosen to ignore it.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        child.close()
        started = time.monotonic()
        self._log('info', f'explainer process {self._proc.pid}: loading {directory}')
        answer = self._receive(started + LOAD_TIMEOUT_S, cancel)
        if answer is None and cancel is not None and cancel.is_set():
            self.close(grace_s=0.0)  # still loading: nothing to finish
            raise RuntimeError('explainer process: stopped while loading')
        kind, detail = answer or ('error', 'no answer')
        if kind != 'ready':
            self.close()
            raise RuntimeError(f'explainer process: {detail}')
        self._log('info', f'explainer process {self._proc.pid}: ready after '
                          f'{time.monotonic() - started:.1f} s')

    @property
    def pid(self) -> Optional[int]:
        """The child's process id."""
        return self._proc.pid

    def _receive(self, until: float, cancel: Any = None) -> Optional[tuple]:
        """The child's next answer, or None at `until`, on `cancel`, or if it died; log
        records it sends on the way are logged."""
        while time.monotonic() < until and not (cancel is not None and cancel.is_set()):
            if self._conn.poll(POLL_S):
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    return None
                if message[0] == 'log':
                    self._log(message[1], message[2])
                    continue
                return message
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

    def close(self, grace_s: float = CANCEL_GRACE_S) -> None:
        """Ask the child to finish, give it `grace_s`, then make sure it has."""
        self._cancel.set()
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._proc.join(timeout=grace_s)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=CANCEL_GRACE_S)
        self._conn.close()
        self._log('info', f'explainer process {self._proc.pid}: ended')
