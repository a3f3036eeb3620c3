"""torch.fft: discrete Fourier transforms (fastgrad/_ops/fft.py), on SciPy's or NumPy's pocketfft."""
from fastgrad._tensor import Tensor  # noqa: F401  (torch.fft.Tensor is torch.Tensor)
from fastgrad._ops.fft import (fft, fft2, fftfreq, fftn, fftshift, hfft, hfft2, hfftn, ifft, ifft2,  # noqa: F401
                               ifftn, ifftshift, ihfft, ihfft2, ihfftn, irfft, irfft2, irfftn, rfft, rfft2,
                               rfftfreq, rfftn)

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn",
           "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift",
           "ifftshift"]
