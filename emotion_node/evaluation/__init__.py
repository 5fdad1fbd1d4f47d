"""Evaluation room: scores on clips, the LLM evaluation, the leave-one-content-out study."""
