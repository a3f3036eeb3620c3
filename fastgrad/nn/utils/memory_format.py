"""torch.nn.utils.memory_format: convert the weights of (transposed) 2-d / 3-d convolutions to a
memory format. fastgrad's arrays carry no channels-last layout, so this re-clones the weights
(values unchanged) and walks the children as torch does."""
__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module, memory_format, classes):
    if isinstance(module, classes):
        module.weight.data = module.weight.detach().clone(memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, classes)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    from fastgrad import nn

    return _convert(module, memory_format, (nn.Conv2d, nn.ConvTranspose2d))


def convert_conv3d_weight_memory_format(module, memory_format):
    from fastgrad import nn

    return _convert(module, memory_format, (nn.Conv3d, nn.ConvTranspose3d))
