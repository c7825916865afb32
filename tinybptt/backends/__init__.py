"""torch.backends' switches for a CPU-only framework: ``cudnn``, ``mps`` and ``cuda.matmul``.

Training scripts set these flags for speed or reproducibility (``backends.cudnn.deterministic = True``);
tinybptt has no cuDNN, MPS or CUDA, so the flags are stored and read back but change nothing:
tinybptt computes on the CPU with numpy and numba and is deterministic already.
"""
from . import cuda, cudnn, mps  # noqa: F401
