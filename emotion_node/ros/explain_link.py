"""Between the node and the LLM worker: what to explain, when, and which answers to keep.

Per person, an explanation is asked for when the published (smoothed) label changes and
otherwise every `llm.period_s`, always for the label being published, from that person's tokens
and measured cues. An answer is attached only while the person still carries the label it
explains; when the label changes the old text is cleared at once, so the label and the
explanation on a PersonEmotion never disagree. With the text comes the explainer's own reading
of the same window (`explainer_label`), which the text names when it differs. The worker
thread schedules; the LLM itself runs in a child process (see explain_process); nothing here
waits for either.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from emotion_node.runtime.explain_process import CANCEL_GRACE_S
from emotion_node.ros.params import NodeParams
from emotion_node.model.model_files import (
    EXPLAINER_CONFIG_FILE, default_explainer_dir, explainer_mismatch)
from emotion_node.ros.people import OK
from emotion_node.skeleton.cues import span_cues



def explainer_dir(p: NodeParams, model_dir: Path) -> Path:
    """`llm.model_dir`, or the explainer saved beside the tokenizer (`<model>/explainer`)."""
    return Path(p.llm_model_dir).expanduser() if p.llm_model_dir else \
        default_explainer_dir(model_dir)


class ExplainLink:
    """Schedules explanation requests and attaches the answers that still fit."""

    def __init__(self, p: NodeParams, model: Any, logger: Any,
                 factory: Optional[Callable[[], Any]] = None) -> None:
        """`factory` builds the explainer on the worker thread (default: load the saved one)."""
        from emotion_node.runtime.explain_worker import ExplainWorker
        self.directory = explainer_dir(p, model.directory)
        self.period_s = p.llm_period_s
        self._threads, self._nice, self._logger = p.llm_threads, p.llm_nice, logger
        self._closing = threading.Event()  # set first at close: a load in progress stops
        self._fps = model.preprocess.fps
        self._asked: Dict[str, Tuple[str, float]] = {}  # body -> (style asked, monotonic time)
        self._shown: Dict[str, str] = {}  # body -> style of the attached explanation
        self.stale = 0  # answers dropped because the label had changed meanwhile
        self.unavailable = ''
        self.worker: Any = None
        if factory is None:
            config = self.directory / EXPLAINER_CONFIG_FILE
            if not config.is_file():
                self.unavailable = f'{config} not found'
                logger.warning(f'LLM explanations off: {self.unavailable}')
                return
            # Tokens from another tokenizer would make the projector explain noise.
            self.unavailable = explainer_mismatch(self.directory, model.directory)
            if self.unavailable:
                logger.error(f'LLM explanations off: {self.unavailable}')
                return
            factory = self._start_process
        # The factory runs on the worker thread, so starting the child never blocks the node;
        # the worker closes what it built.
        self.worker = ExplainWorker(factory, timeout_s=p.llm_timeout_s)

    def _start_process(self) -> Any:
        """Start the explainer's child process (on the worker thread)."""
        from emotion_node.runtime.explain_process import ProcessExplainer
        return ProcessExplainer(self.directory, self._threads, self._nice, self._closing,
                                self._logger)

    def configure(self, period_s: float) -> None:
        """Take a new explanation period."""
        self.period_s = period_s

    def update(self, pipeline: Any, results: List[Any], now: float) -> None:
        """Attach finished answers, clear ones whose label changed, submit what is due."""
        if self.worker is None:
            return
        for answer in self.worker.poll_results():
            result = pipeline.results.get(answer.person_id)
            if result is None or result.style != answer.label:
                self.stale += 1
                continue
            pipeline.set_explanation(answer.person_id, answer.text, answer.stamp,
                                     answer.reading)
            self._shown[answer.person_id] = answer.label
        mono = time.monotonic()
        for result in results:
            if result.body_id in self._shown and self._shown[result.body_id] != result.style:
                pipeline.set_explanation(result.body_id, '', 0.0)  # never a stale reason
                del self._shown[result.body_id]
            if result.status == OK and self._due(result.body_id, result.style, mono):
                self._submit(pipeline, result, mono)
        for gone in set(self._asked) - set(pipeline.results):
            self._asked.pop(gone, None)
            self._shown.pop(gone, None)

    def _due(self, body_id: str, style: str, mono: float) -> bool:
        """A new label, or the period has passed since the last request."""
        asked = self._asked.get(body_id)
        return asked is None or asked[0] != style or mono - asked[1] >= self.period_s

    def _submit(self, pipeline: Any, result: Any, mono: float) -> None:
        """Ask the worker to explain the published label from this person's tokens and cues."""
        tokens = pipeline.tokens.get(result.body_id)
        if tokens is None:
            return
        cues = span_cues(tokens.positions, tokens.mask, self._fps)  # (3, 7): window, halves
        self.worker.submit(result.body_id, tokens.temporal, tokens.spatial, tokens.semantic,
                           result.style, cues, tokens.window_end)
        self._asked[result.body_id] = (result.style, mono)

    def diagnostics(self) -> Dict[str, str]:
        """LLM counters for /diagnostics."""
        if self.worker is None:
            return {'llm.state': f'unavailable: {self.unavailable}'}
        stats = self.worker.stats()
        state = 'generating' if stats['busy'] else 'ready' if stats['ready'] else 'loading'
        if not stats['alive']:
            state = 'stopped'
        out = {'llm.state': state, 'llm.stale_dropped': str(self.stale),
               'llm.mean_generation_s': f'{stats["mean_generation_s"]:.2f}'}
        for key in ('submitted', 'replaced', 'dropped', 'completed', 'failed', 'timeouts',
                    'pending'):
            out[f'llm.{key}'] = str(stats[key])
        if stats['last_error']:
            out['llm.last_error'] = stats['last_error'][:200]
        return out

    def close(self) -> None:
        """Stop the worker thread, which closes the explainer process (a generation stops at
        its next token, a load at once)."""
        self._closing.set()
        if self.worker is not None:
            # Long enough for a generation to stop and the child to end (explain_process).
            self.worker.close(timeout=3 * CANCEL_GRACE_S)
            self.worker = None

