"""torch.backends.quantized: the quantized engine setting (recorded; fastgrad has no quantized kernels)."""
engine = "x86"
supported_engines = ["qnnpack", "onednn", "x86", "fbgemm"]
