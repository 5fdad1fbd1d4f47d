"""Inference runtime: ONNX export, tokenizer backends behind one interface, TensorRT cache."""
