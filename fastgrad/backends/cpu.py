"""torch.backends.cpu.get_cpu_capability(): the widest vector extension this CPU has."""


def get_cpu_capability():
    """'AVX512', 'AVX2' or 'DEFAULT' (torch's spellings), from /proc/cpuinfo's flags on Linux."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= set(flags):
        return "AVX512"
    if "avx2" in flags:
        return "AVX2"
    return "DEFAULT"
