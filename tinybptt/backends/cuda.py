"""torch.backends.cuda: ``matmul.allow_tf32`` (default False, as torch) is stored and has no effect;
tinybptt's matrix products are numpy's, in full float32/float64 precision."""


class _MatmulFlags:
    """The settable ``torch.backends.cuda.matmul`` flags."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built():
    """False: tinybptt was not built with CUDA."""
    return False
