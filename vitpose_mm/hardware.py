"""Whether this CPU computes bfloat16 natively: the one place that decides it.

The fast inference path (``precision='bf16'``), the bf16 autocast training wrapper's log line, ``tools/benchmark.py``'s
bf16 rows and docs/speed.md all follow :func:`native_bf16`.

The answer comes from the CPU and the kernels, not from torch's dispatch label:
``torch.backends.cpu.get_cpu_capability()`` names the vector ISA torch's own kernels were built for, and on AVX-512
BF16 CPUs such as AMD Zen 4 it says just ``AVX512`` although oneDNN, which runs the matrix products and
convolutions, computes bf16 in hardware there. The sources:

1. the CPU flags of ``/proc/cpuinfo`` (x86 Linux): ``avx512_bf16`` (AVX-512 BF16: Intel Cooper Lake, Sapphire Rapids;
   AMD Zen 4 and later) or ``amx_bf16`` (Intel AMX: Sapphire Rapids and later) mean bf16 in hardware, and their
   absence means none;
2. where there are no such flags to read (not Linux, or ARM's ``Features`` line), oneDNN's own answer,
   ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``. It is not the first source because on x86 it is true for every
   AVX-512 CPU (torch's ``mkldnn_bf16_device_check``: AVX-512 BW, VL and DQ), where oneDNN runs bf16 through fp32
   arithmetic (no bf16 instruction), which gains nothing over fp32; it is reported beside the flags.

Without hardware bf16, torch emulates bfloat16 and on an AVX2 CPU matrix products run about 50-100x slower than in
fp32 (docs/speed.md).
"""
import functools
import os.path as osp
from typing import Callable, FrozenSet, Iterable, NamedTuple, Optional

# /proc/cpuinfo flags that mean bfloat16 arithmetic in hardware.
BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')


class Bf16Support(NamedTuple):
    """The decision and why: ``native`` (bool) and ``reason`` (one line naming the source that decided)."""
    native: bool
    reason: str


def cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> FrozenSet[str]:
    """The CPU's feature flags from the first ``flags`` line of ``cpuinfo`` (empty when the file is absent, e.g. not
    Linux)."""
    if not osp.isfile(cpuinfo):
        return frozenset()
    with open(cpuinfo) as f:
        for line in f:
            if line.startswith('flags'):
                return frozenset(line.split(':', 1)[1].split())
    return frozenset()


def onednn_bf16() -> Optional[bool]:
    """oneDNN's answer (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``), None when this torch has no oneDNN or
    not that op."""
    import torch
    try:
        if not torch.backends.mkldnn.is_available():
            return None
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return None


def decide_native_bf16(flags: Iterable[str], onednn: Optional[bool]) -> Bf16Support:
    """The decision for given CPU ``flags`` (empty: unknown) and oneDNN answer (None: unknown). Pure: the tests
    inject both."""
    flags = frozenset(flags)
    said = '' if onednn is None else f'; oneDNN bf16 kernels: {"yes" if onednn else "no"}'
    if not flags:
        return Bf16Support(bool(onednn), 'no CPU flags to read' + (said or '; oneDNN unknown'))
    found = [f for f in BF16_CPU_FLAGS if f in flags]
    if found:
        return Bf16Support(True, f'CPU flags {", ".join(found)}{said}')
    isa = 'AVX-512 without BF16' if 'avx512f' in flags else ('AVX2' if 'avx2' in flags else 'no AVX2')
    return Bf16Support(False, f'{isa}: no {" or ".join(BF16_CPU_FLAGS)} CPU flag{said}')


@functools.lru_cache(maxsize=1)
def _this_cpu() -> Bf16Support:
    return decide_native_bf16(cpu_flags(), onednn_bf16())


def native_bf16(flags: Optional[Iterable[str]] = None,
                onednn: Optional[Callable[[], Optional[bool]]] = None) -> Bf16Support:
    """Whether this CPU (or one with the given ``flags`` / ``onednn`` answer) computes bfloat16 natively.

    Args:
        flags: CPU flags to decide for instead of this machine's ``/proc/cpuinfo``.
        onednn: a function giving oneDNN's answer, instead of asking this torch.

    Returns:
        :class:`Bf16Support` (``native``, ``reason``).
    """
    if flags is None and onednn is None:
        return _this_cpu()
    return decide_native_bf16(cpu_flags() if flags is None else flags, (onednn or onednn_bf16)())


__all__ = ['BF16_CPU_FLAGS', 'Bf16Support', 'cpu_flags', 'onednn_bf16', 'decide_native_bf16', 'native_bf16']
