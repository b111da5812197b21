"""tools/benchmark.py without running a model: the ratios and the table from known numbers, an extra implementation
registered by one call, the measuring pieces, the command line, and keypoint displacement between two dumps."""
import pickle

import numpy as np
import pytest
import torch

from vitpose_mm.analysis.benchmark import IMPLEMENTATIONS, build_rows, crops, register_implementation
from vitpose_mm.analysis.benchmark_report import markdown, ratios
from vitpose_mm.analysis.compare_predictions import keypoint_displacement
from vitpose_mm.analysis.timing import peak_memory_bytes

from conftest import load_tool


def row(impl, mode, speed, size='B'):
    summary = dict(images_per_s=speed, p50_ms=8e3 / speed, p95_ms=9e3 / speed, times=[8 / speed])
    return dict(size=size, impl=impl, mode=mode, flops_per_image=37e9, max_abs=1e-3, peak_fp32=0.5, memory=2**27,
                throughput=summary, latency=summary)


def results():
    return dict(device='cpu', threads=2, torch='x', batch=8, train_batch=2, reps=3, notes=['a note'],
                matmul_before={'torch.float32': 180e9}, matmul_after={'torch.float32': 170e9},
                inference=[row('vitpose_mm', 'fp32', 6.0), row('mmpose', 'fp32', 4.0), row('hf', 'fp32', 5.0),
                           row('vitpose_mm', 'fp32', 1.0, size='S')],
                training=[], people=[dict(size='B', precision='fp32', people=4, ms_per_person=250.0)])


def test_ratios_are_against_mmpose_fp32_and_the_best_other_row_of_the_same_size():
    rel = ratios(results())
    assert rel[0]['vs_mmpose_fp32'] == pytest.approx(1.5) and rel[0]['vs_best'] == pytest.approx(1.2)
    assert rel[2]['vs_mmpose_fp32'] == pytest.approx(1.25)
    assert rel[3] == dict(vs_mmpose_fp32=None, vs_best=None)  # no mmpose/HF row of size S
    drift = results()  # the machine 3x slower in the second repetition: the paired ratio does not move
    drift['inference'][0]['throughput']['times'] = [1.0, 3.0, 1.1]
    drift['inference'][1]['throughput']['times'] = [2.0, 6.0, 2.0]
    assert ratios(drift)[0]['vs_mmpose_fp32'] == pytest.approx(2.0)


def test_markdown_table_has_the_measured_numbers():
    text = markdown(results(), 'python tools/benchmark.py')
    assert '| B | vitpose_mm | fp32 | 6.00 | 1.50x | 1.20x | 1,333 / 1,500 |' in text
    assert '| 128 | 222 | 131% |' in text  # peak MB, GFLOP/s = 6 x 37, and of the slower matmul (170)
    assert 'float32 170 GFLOP/s' in text and '- a note' in text and '| B | fp32 | 4 | 250 |' in text


def test_an_extra_implementation_is_one_register_call():
    name = 'test_zeros'
    register_implementation(name, lambda device: ('fp32', 'half'),
                            lambda size, mode, device: (lambda x: torch.zeros(len(x), 17, 64, 48)))
    try:
        with pytest.raises(ValueError, match=repr(name)):
            register_implementation(name, lambda device: (), lambda *a: None)
        rows = build_rows('B', torch.device('cpu'), [name], {name: ['fp32', 'half']}, worker=None)
        assert [(r.impl, r.mode) for r in rows] == [(name, 'fp32'), (name, 'half')]
        assert rows[1].reference is rows[0] and len(rows[1].time(2, 3)) == 3
        assert rows[1].check(2)['max_abs'] == 0.0
    finally:
        IMPLEMENTATIONS.pop(name)


def test_cpu_peak_memory_counts_the_intermediate_tensors():
    x = torch.randn(256, 1024)
    layer = torch.nn.Linear(1024, 4096)
    with torch.no_grad():
        peak = peak_memory_bytes(lambda: torch.relu(layer(x)).sum(), torch.device('cpu'))
    two = 2 * 256 * 4096 * 4  # the linear's output and the relu's, both alive before the sum
    assert two <= peak < 1.05 * two, peak


def test_crops_are_the_same_for_every_row():
    torch.testing.assert_close(crops(3, torch.device('cpu'))[:2], crops(2, torch.device('cpu')))


def test_command_line_errors_are_named():
    tool = load_tool('benchmark')
    with pytest.raises(SystemExit):
        tool.parse_args(['--implementations', 'onnx_typo'])
    with pytest.raises(SystemExit):
        tool.parse_args(['--reps', '0'])
    args = tool.parse_args(['--sizes', 'S', 'B', '--no-train', '--people'])
    assert args.sizes == ['S', 'B'] and args.people == [] and args.no_train


def test_keypoint_displacement_between_two_dumps(tmp_path):
    kpts = np.zeros((1, 3, 2))
    dump = [dict(img_id=1, id=7, pred_instances=dict(keypoints=kpts))]
    moved = [dict(img_id=1, id=7, pred_instances=dict(keypoints=kpts + [[[3, 4], [0, 0], [0, 1]]]))]
    for name, data in (('a', dump), ('b', moved), ('c', dump * 2)):
        with open(tmp_path / f'{name}.pkl', 'wb') as f:
            pickle.dump(data, f)
    d = keypoint_displacement(str(tmp_path / 'a.pkl'), str(tmp_path / 'b.pkl'))
    assert d['count'] == 3 and d['mean'] == pytest.approx(2.0) and d['max'] == 5.0 and d['median'] == 1.0


@pytest.mark.slow  # an ONNX export, about 14 s of CPU
def test_onnxruntime_row_computes_the_vitpose_mm_row_heatmaps(monkeypatch):
    """The onnxruntime row exports the model the vitpose_mm row builds (here a tiny one) and gives its heatmaps."""
    from vitpose_mm.analysis import benchmark
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    def tiny_estimator(config, device):
        cfg = Config.fromfile(config)
        cfg.model.backbone.update(embed_dim=32, depth=1, num_heads=2, init_cfg=None)
        cfg.model.head.in_channels = 32
        init_default_scope('mmpose')
        torch.manual_seed(0)
        return MODELS.build(cfg.model).to(device).eval()

    monkeypatch.setattr(benchmark, 'build_estimator', tiny_estimator)
    assert IMPLEMENTATIONS['onnxruntime'].modes(torch.device('cpu')) == ('fp32', 'int8')
    forward = IMPLEMENTATIONS['onnxruntime'].build('B', 'fp32', torch.device('cpu'))
    model = tiny_estimator(benchmark.vitpose_mm_config('B'), torch.device('cpu'))
    x = crops(2, torch.device('cpu'))
    with torch.no_grad():
        expected = model.head.forward(model.extract_feat(x))
    out = forward(x)
    assert out.shape == (2, 17, 64, 48)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    assert float(expected.abs().max()) > 1e-3  # random weights: heatmaps that could differ
    int8 = IMPLEMENTATIONS['onnxruntime'].build('B', 'int8', torch.device('cpu'))(x)
    assert 1e-5 < float((int8 - expected).abs().max()) <= 0.05 * float(expected.abs().max())
