"""Input adapters for trackers with messages of their own: one module per tracker, each reading
its message into canonical BodyFrames (and building it back for bags and tests).

`emotion_node/SkeletonArray` and the Azure Kinect MarkerArray are read in ros/convert.py, which
also holds what every adapter shares: BodyFrame, Rejection and its reasons, `_canonical_body`
(layout positions -> canonical frame) and `_screen_ids` (missing, duplicate and excess ids).
"""
