"""Training room: data windows and augmentation, the tokenizer and explainer training runs."""
