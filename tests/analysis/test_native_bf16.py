"""The one decision on native bfloat16 (vitpose_mm/hardware.py), on injected CPU flag sets, and what follows it: the
benchmark's bf16 rows, the fast inference path and the bf16 autocast wrapper's log line."""
import logging

import pytest
import torch

from vitpose_mm import hardware
from vitpose_mm.analysis.benchmark_run import bf16_rows
from vitpose_mm.hardware import native_bf16

BASE = {'sse4_2', 'avx', 'avx2', 'fma', 'f16c'}
AVX512 = BASE | {'avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd'}
CPUS = {
    # name: (flags, what torch's oneDNN check answers there: AVX-512 BW+VL+DQ, or ARM bf16)
    'avx2 (AMD EPYC Zen 2/3)': (BASE, False),
    'avx512 without bf16 (Intel Cascade Lake)': (AVX512 | {'avx512_vnni'}, True),
    'avx512 bf16 (AMD Zen 4: torch reports AVX512)': (AVX512 | {'avx512_vnni', 'avx512_bf16', 'avx512_vbmi'}, True),
    'amx (Intel Sapphire Rapids)': (AVX512 | {'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_tile', 'amx_int8'}, True),
}
NATIVE = {'avx2 (AMD EPYC Zen 2/3)': False, 'avx512 without bf16 (Intel Cascade Lake)': False,
          'avx512 bf16 (AMD Zen 4: torch reports AVX512)': True, 'amx (Intel Sapphire Rapids)': True}


@pytest.mark.parametrize('cpu', list(CPUS))
def test_decision_on_injected_flag_sets(cpu, monkeypatch):
    flags, onednn = CPUS[cpu]
    # torch's dispatch label is not asked: Zen 4 says only AVX512 there
    monkeypatch.setattr(torch.backends.cpu, 'get_cpu_capability', lambda: 'AVX512')
    got = native_bf16(flags=flags, onednn=lambda: onednn)
    assert got.native is NATIVE[cpu], got
    # the flags decide whatever oneDNN answers (it says yes on every AVX-512 CPU, emulating bf16 without BF16)
    assert native_bf16(flags=flags, onednn=lambda: not onednn).native is NATIVE[cpu]
    assert native_bf16(flags=flags, onednn=lambda: None).native is NATIVE[cpu]


def test_reason_names_the_flag_or_the_missing_one():
    assert 'avx512_bf16' in native_bf16(flags=CPUS['avx512 bf16 (AMD Zen 4: torch reports AVX512)'][0],
                                        onednn=lambda: True).reason
    assert 'amx_bf16' in native_bf16(flags=CPUS['amx (Intel Sapphire Rapids)'][0], onednn=lambda: True).reason
    assert native_bf16(flags=BASE, onednn=lambda: False).reason.startswith('AVX2')
    assert native_bf16(flags=AVX512, onednn=lambda: True).reason.startswith('AVX-512 without BF16')


@pytest.mark.parametrize('onednn, native', [(True, True), (False, False), (None, False)])
def test_without_flags_to_read_onednn_decides(onednn, native):
    # not Linux, or ARM (its /proc/cpuinfo has "Features", not "flags"): oneDNN's own answer
    assert native_bf16(flags=(), onednn=lambda: onednn).native is native


def test_flags_are_read_from_cpuinfo(tmp_path):
    path = tmp_path / 'cpuinfo'
    path.write_text('processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\n'
                    'processor\t: 1\nflags\t\t: fpu\n')
    assert hardware.cpu_flags(str(path)) == {'fpu', 'avx2', 'avx512f', 'avx512_bf16'}
    assert hardware.cpu_flags(str(tmp_path / 'absent')) == frozenset()


@pytest.mark.parametrize('cpu', list(CPUS))
def test_benchmark_bf16_rows_follow_the_decision(cpu):
    flags, onednn = CPUS[cpu]
    skipped, note = bf16_rows(torch.device('cpu'), native_bf16(flags=flags, onednn=lambda: onednn))
    assert skipped is not NATIVE[cpu]
    assert note.startswith('bf16 rows skipped' if skipped else 'bf16 rows measured')
    # the note names what decided
    assert ('CPU flags avx512_bf16' if NATIVE[cpu] else 'no avx512_bf16 or amx_bf16 CPU flag') in note
    assert bf16_rows(torch.device('cuda'), native_bf16(flags=flags, onednn=lambda: onednn)) == (False, None)


def test_this_machine_is_decided_by_its_flags():
    flags = hardware.cpu_flags()
    if not flags:
        pytest.skip('no /proc/cpuinfo flags on this machine')
    assert native_bf16().native is any(f in flags for f in hardware.BF16_CPU_FLAGS)


@pytest.mark.parametrize('native', [True, False])
def test_fast_path_and_autocast_wrapper_follow_the_decision(native, monkeypatch):
    from mmengine.logging import MMLogger

    from vitpose_mm.engine.optim_wrappers import autocast_optim_wrapper
    from vitpose_mm.models.pose_estimators import fast_inference
    decision = hardware.Bf16Support(native, 'injected')
    monkeypatch.setattr(fast_inference, 'native_bf16', lambda: decision)
    monkeypatch.setattr(autocast_optim_wrapper, 'native_bf16', lambda: decision)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        model = torch.nn.Linear(2, 2)
        autocast_optim_wrapper.AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
        pose = torch.nn.Module()
        pose.backbone, pose.head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
        fast_inference.enable_fast_inference(pose, precision='bf16')
    finally:
        logger.removeHandler(handler)
    emulated = [r for r in records if 'precision=bf16 on a CPU without native bfloat16' in r.getMessage()]
    assert len(emulated) == (0 if native else 1)
    line = [r for r in records if 'bf16 autocast on the CPU' in r.getMessage()]
    assert len(line) == 1 and f'native bfloat16 {"yes" if native else "no"}' in line[0].getMessage()
    assert line[0].levelno == (logging.INFO if native else logging.WARNING)


def test_benchmark_report_prints_the_cpu_beside_the_matmul_rates():
    from test_benchmark import results

    from vitpose_mm.analysis.benchmark_report import markdown
    from vitpose_mm.analysis.benchmark_run import cpu_summary
    summary = cpu_summary()
    assert summary['native_bf16'] is native_bf16().native and set(summary['flags']) <= hardware.cpu_flags()
    res = dict(results(), cpu=dict(flags=['avx2', 'avx512f', 'avx512_bf16'], torch_capability='AVX512',
                                   native_bf16=True, bf16_reason='CPU flags avx512_bf16'))
    text = markdown(res)
    assert 'CPU flags: avx2 avx512f avx512_bf16; torch dispatch AVX512; native bf16: yes' in text
    assert text.index('CPU flags') > text.index('float32 170 GFLOP/s')  # right under the matmul rates
