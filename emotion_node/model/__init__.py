"""Model room: labels, the skeleton tokenizer, the LLM explainer, the files of a model folder."""
