"""ROS4HRI output: one hri_msgs/Expression per tracked body on /humans/bodies/<id>/expression.

REP-155 defines `expression` for faces only (/humans/faces/<id>/expression); the node reads
emotion from the body, so it mirrors that topic under the body. A body's publisher exists while
the body is tracked (warming up or ok) and is destroyed when the body is lost; every tick with a
label publishes one Expression. hri_msgs is imported by name at configure (`output.hri`), so the
node needs it only when asked to publish it.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, Iterable

from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from emotion_node.model.labels import HRI_EXPRESSIONS
from emotion_node.ros.outputs import to_time
from emotion_node.ros.people import LOST, OK
from emotion_node.ros.pipeline import PersonResult

EXPRESSION_TYPE = 'hri_msgs/msg/Expression'
TOPIC = '/humans/bodies/{}/expression'
# What ROS4HRI subscribers (libhri, hri_emotion_recognizer's consumers) use: reliable, volatile.
EXPRESSION_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.VOLATILE)
NO_EXPRESSION = ''  # a label without an Expression constant (proud, not_confident)
MAX_ID_CHARS = 64  # longer ids are cut and told apart by a digest
_NAME_TOKEN = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')  # a ROS name token


def hri_body_id(body_id: str) -> str:
    """A tracker's body id as the <body_id> token of a ROS4HRI topic name.

    Ids that are valid name tokens (what ROS4HRI trackers use) are kept. Others get their
    characters outside [A-Za-z0-9_] replaced by '_' and a digest of the original id appended,
    so distinct ids stay distinct; one that starts with a digit ('3', ZED and yolo_ros ids) is
    prefixed with 'body_' ('body_3').
    """
    if _NAME_TOKEN.match(body_id) and len(body_id) <= MAX_ID_CHARS:
        return body_id
    token = re.sub(r'[^A-Za-z0-9_]', '_', body_id)[:MAX_ID_CHARS]
    if token != body_id:
        token += '_' + hashlib.sha256(body_id.encode()).hexdigest()[:8]
    return token if _NAME_TOKEN.match(token) else f'body_{token}'


def expression_of(style: str) -> str:
    """The Expression string of a model style, NO_EXPRESSION when the message has none."""
    return HRI_EXPRESSIONS.get(style, NO_EXPRESSION)


class HriExpressions:
    """The per-body Expression publishers of one active node."""

    def __init__(self, node: Node, expression_cls: Any) -> None:
        self._node = node
        self._cls = expression_cls
        self._pubs: Dict[str, Publisher] = {}  # body id -> its publisher

    @property
    def topics(self) -> Dict[str, str]:
        """Body id -> Expression topic, for every body with a publisher."""
        return {body_id: pub.topic_name for body_id, pub in self._pubs.items()}

    def publish(self, results: Iterable[PersonResult], frame_id: str) -> None:
        """Follow the tracked bodies (publishers come and go) and publish their expressions."""
        tracked = {r.body_id: r for r in results if r.status != LOST}
        for body_id in [b for b in self._pubs if b not in tracked]:
            self._node.destroy_publisher(self._pubs.pop(body_id))
        for body_id, result in tracked.items():
            pub = self._pubs.get(body_id) or self._create(body_id)
            if result.status == OK and result.label:
                pub.publish(self.message(result, frame_id))

    def message(self, result: PersonResult, frame_id: str) -> Any:
        """One Expression: stamped with the end of the person's window."""
        return self._cls(header=Header(stamp=to_time(result.window_end), frame_id=frame_id),
                         expression=expression_of(result.style),
                         valence=float(result.valence), arousal=float(result.arousal),
                         confidence=float(result.confidence))

    def close(self) -> None:
        """Destroy every publisher (deactivate, shutdown)."""
        for pub in self._pubs.values():
            self._node.destroy_publisher(pub)
        self._pubs.clear()

    def _create(self, body_id: str) -> Publisher:
        """A publisher for a newly tracked body (its topic told apart if already taken)."""
        token = hri_body_id(body_id)
        if TOPIC.format(token) in self.topics.values():  # e.g. ids '3' and 'body_3' at once
            token += '_' + hashlib.sha256(body_id.encode()).hexdigest()[:8]
        pub = self._node.create_publisher(self._cls, TOPIC.format(token), EXPRESSION_QOS)
        self._pubs[body_id] = pub
        return pub
