"""Conv3d and ConvTranspose3d (torch.nn.Conv3d / ConvTranspose3d), on _ConvNd / _ConvTransposeNd of conv.py."""
from fastgrad.nn import functional as F
from fastgrad.nn.modules.conv import _ConvNd, _ConvTransposeNd

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _reversed_padding_repeated_twice(padding, kernel_size, dilation):
    """F.pad's (last dim first) padding for padding_mode != 'zeros', as torch's _ConvNd."""
    n = len(kernel_size)
    if isinstance(padding, str):
        out = [0, 0] * n
        if padding == "same":
            for d, k, i in zip(dilation, kernel_size, range(n - 1, -1, -1)):
                total = d * (k - 1)
                out[2 * i] = total // 2
                out[2 * i + 1] = total - total // 2
        return out
    return tuple(p for p in reversed(padding) for _ in range(2))


class Conv3d(_ConvNd):
    """3-D convolution over (N, C, D, H, W) inputs; weight (out_channels, in_channels / groups, kd, kh, kw)."""

    _n = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        if padding_mode not in _PADDING_MODES:
            raise ValueError("padding_mode must be one of {'zeros', 'reflect', 'replicate', 'circular'}, but got "
                             f"padding_mode='{padding_mode}'")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, "zeros",
                         device, dtype)
        self.padding_mode = padding_mode
        self._reversed_padding_repeated_twice = _reversed_padding_repeated_twice(self.padding, self.kernel_size,
                                                                                 self.dilation)

    def _conv_forward(self, input, weight, bias):
        if self.padding_mode != "zeros":
            return F.conv3d(F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode), weight, bias,
                            self.stride, (0, 0, 0), self.dilation, self.groups)
        return F.conv3d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution; weight (in_channels, out_channels / groups, kd, kh, kw)."""

    _n = 3

    def forward(self, input, output_size=None):
        if self.padding_mode != "zeros":
            raise ValueError("Only `zeros` padding mode is supported for ConvTranspose3d")
        output_padding = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size, 3,
                                              self.dilation)
        return F.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)
