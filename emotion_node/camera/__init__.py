"""A plain RGB camera as a skeleton tracker: image decoding, a 3D body-pose model that ships
offline, placement in the camera frame and person ids across frames. No ROS here."""
