"""Benchmarks, one module per job: tokenizer backends, the node, label flicker, the LLM."""
