"""Skeleton room: joint layouts, BVH reading, preprocessing, kinematic cues, dataset index."""
