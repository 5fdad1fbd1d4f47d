"""The emotion node process: `ros2 run emotion_node emotion_node` and `emotion-node run`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import rclpy
from rclpy.exceptions import (InvalidNamespaceException, InvalidNodeNameException,
                               InvalidParameterTypeException, ParameterException)
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions

from emotion_node.package_files import SOURCE_ROOT, installed_share_dir
from emotion_node.ros.node import EmotionNode
from emotion_node.ros.stop_signals import StopSignals

# One executor thread. Inputs queue in DDS while a tick runs (a few ms), and the LLM has its
# own process. rclpy's MultiThreadedExecutor cost more than the node's work: with it, 30 people
# at 30 Hz saturated a core (p50 463 ms, inputs dropped); single-threaded it takes half a core
# (p50 17 ms, nothing dropped; BENCHMARKS.md).

SPIN_POLL_S = 0.1  # how soon the spin loop sees a stop signal


def package_params_file() -> Optional[Path]:
    """config/emotion_node.yaml of the installed package (else the source tree); None if absent."""
    folders = [share / 'config' for share in (installed_share_dir(),) if share]
    folders.append(SOURCE_ROOT / 'config')
    return next((f / 'emotion_node.yaml' for f in folders if (f / 'emotion_node.yaml').is_file()),
                None)


def autostart(node: EmotionNode) -> bool:
    """Configure then activate without a lifecycle manager; False when a transition fails."""
    for name, trigger in (('configure', node.trigger_configure),
                          ('activate', node.trigger_activate)):
        if trigger() != TransitionCallbackReturn.SUCCESS:
            node.get_logger().error(f'autostart: {name} failed (see the message above)')
            return False
    return True


def shutdown(node: EmotionNode) -> None:
    """The lifecycle shutdown transition, from whatever state the node is in (none when a
    lifecycle manager has already finalized it)."""
    if node.lifecycle_state() != 'finalized':
        node.trigger_shutdown()


def main(args: Optional[List[str]] = None, stop: Optional[StopSignals] = None) -> int:
    """Create the node, autostart it if asked, spin until a stop signal; shut the node down
    once; return the exit code (0 after SIGINT or SIGTERM). `stop`: the handlers an entry
    point installed before importing this module (else installed here)."""
    stop = stop if stop is not None else StopSignals()
    rclpy.init(args=sys.argv if args is None else args,
               signal_handler_options=SignalHandlerOptions.NO)
    node: Optional[EmotionNode] = None
    try:
        node = EmotionNode()
        stop.logger = node.get_logger()
        if stop.requested:
            stop.logger.info(f'{stop.received[0]} while starting: shutting down')
        if node.get_parameter('autostart').value and not stop.requested and \
                not autostart(node):
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.requested and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_POLL_S)
    except (ParameterException, InvalidNamespaceException, InvalidNodeNameException) as err:
        hint = (' (write floating-point values with a decimal point, e.g. 15.0)'
                if isinstance(err, InvalidParameterTypeException) else '')
        print(f'emotion_node: {err}{hint}', file=sys.stderr)
        return 2
    except ExternalShutdownException:
        pass  # rclpy was shut down from elsewhere in the process
    finally:
        if node is not None:
            shutdown(node)
            node.close()  # a no-op after the shutdown transition; a failed one leaves this
            node.destroy_node()
        rclpy.try_shutdown()
        stop.ignore_from_now()
    return 0


def node_command(parameters: Dict[str, Any], params_file: Optional[Path] = None) -> List[str]:
    """Command line that starts the node as its own process, autostarted, with parameters."""
    args = [sys.executable, '-m', 'emotion_node', 'run', '--ros-args']
    if params_file is not None:
        args += ['--params-file', str(params_file)]
    args += ['-p', 'autostart:=true']
    for name, value in parameters.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ['-p', f'{name}:={text}']
    return args


def spawn(command: List[str], log_path: Path,
          env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    """Start a process in its own session (so `stop_process` ends its children too), its
    output to log_path."""
    with open(log_path, 'wb') as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ) if env is None else env,
                                start_new_session=True)


def spawn_node(parameters: Dict[str, Any], log_path: Path, env: Optional[Dict[str, str]] = None,
               params_file: Optional[Path] = None) -> subprocess.Popen:
    """Start the node process (own session, output to log_path) for demos and benchmarks."""
    return spawn(node_command(parameters, params_file), log_path, env)


def stop_process(proc: subprocess.Popen, grace_s: float = 5.0) -> int:
    """SIGINT, wait, then SIGKILL the process's own session; return its exit code.

    The session is killed even when the process itself has exited, so a child it left behind
    (the explainer process) does not outlive it.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
    except ProcessLookupError:
        pass
    return proc.wait()


if __name__ == '__main__':
    sys.exit(main())
