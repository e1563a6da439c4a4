"""The handwritten-digits classifier: training script, shipped ONNX model and its loader."""
