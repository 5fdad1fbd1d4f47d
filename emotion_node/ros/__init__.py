"""ROS 2 side of emotion_node: message conversion, bag writing and replay, and the node itself."""
