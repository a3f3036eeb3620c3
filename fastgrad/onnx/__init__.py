"""fastgrad.onnx (torch.onnx): importable, but exporting needs PyTorch's graph capture, which fastgrad
does not have; export raises NotImplementedError."""
__all__ = ["export", "is_in_onnx_export", "OnnxExporterError"]


class OnnxExporterError(RuntimeError):
    """Errors raised by the ONNX exporter."""


def is_in_onnx_export():
    return False


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
           opset_version=None, dynamo=True, external_data=True, dynamic_shapes=None, **options):
    raise NotImplementedError("fastgrad.onnx.export (torch.onnx.export) is not supported: fastgrad has no graph "
                              "capture to export from. Export the model with PyTorch (its state_dict loads there "
                              "through fastgrad.save / safetensors).")
