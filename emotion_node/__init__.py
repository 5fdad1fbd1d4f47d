"""Emotion recognition from 3D skeleton motion for ROS 2 (see README.md)."""
