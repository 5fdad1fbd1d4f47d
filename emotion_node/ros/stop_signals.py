"""Stop signals of the node process: SIGINT and SIGTERM end it cleanly, whenever they come.

Standard library only, so an entry point installs the handlers before it imports rclpy, numpy
and the model (a second or more): Ctrl-C during start-up ends the process as cleanly as later.
"""
from __future__ import annotations

import signal
from typing import Any, List

SIGNALS = (signal.SIGINT, signal.SIGTERM)

class StopSignals:
    """SIGINT and SIGTERM, however often and from wherever (a terminal's Ctrl-C reaches the
    whole process group; `ros2 launch` forwards a second SIGINT, then SIGTERM), only ask the
    node to stop: the spin loop ends and the node shuts down once, with no KeyboardInterrupt
    in the middle of it."""

    def __init__(self) -> None:
        self.received: List[str] = []
        self.logger: Any = None  # the node's, once it exists
        for sig in SIGNALS:  # (only the main thread may install handlers)
            signal.signal(sig, self._on_signal)

    @property
    def requested(self) -> bool:
        """True once a stop signal has arrived."""
        return bool(self.received)

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if self.logger is not None:
            self.logger.info(f'{name}: shutting down' if len(self.received) == 1 else
                             f'{name}: already shutting down')

    def ignore_from_now(self) -> None:
        """Once the node is down the process only exits: a late signal (launch's second SIGINT,
        or SIGTERM) must not turn a clean exit into a KeyboardInterrupt on the way out."""
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        self.logger = None
