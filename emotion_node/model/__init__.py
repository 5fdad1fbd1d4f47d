"""Model room: emotion labels, the skeleton tokenizer, its training and evaluation, explainer."""
