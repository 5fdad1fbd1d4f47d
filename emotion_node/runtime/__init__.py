"""Inference runtime: backends behind one interface, ONNX export, TensorRT, explainer worker."""
