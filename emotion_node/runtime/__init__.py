"""Inference runtime: backends behind one interface, ONNX export, TensorRT, the explainer worker."""
