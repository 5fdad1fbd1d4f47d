"""`python -m emotion_node`: the same entry point as the `emotion-node` command."""
import sys

from emotion_node.cli import main

sys.exit(main())
