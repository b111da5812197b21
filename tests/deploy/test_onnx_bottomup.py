"""ONNX export of a bottom-up ViTPose: every head output at any input size, equal to torch; the onnxruntime runner
gives the torch model's people (mmpose's own flip test, grouping and decoding); heads that cannot be split are
refused by name."""
import numpy as np
import onnx
import pytest
import torch

from bottomup_models import BU_CONFIG, build_bottomup_model, save_bottomup_checkpoint, two_people
from conftest import load_tool
from vitpose_mm.apis import PoseEstimator
from vitpose_mm.deploy import OnnxBottomupModel, build_export_source, read_metadata
from vitpose_mm.deploy.bottomup import output_names


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('onnx_bu')
    ckpt = save_bottomup_checkpoint(str(tmp / 'bu.pth'))
    code = load_tool('export_onnx').main([BU_CONFIG, ckpt, str(tmp / 'bu.onnx')])
    assert code == 0  # the tool's own parity check passed (exit 2 otherwise)
    return ckpt, str(tmp / 'bu.onnx')


def test_every_head_output_at_any_size_equals_torch(exported):
    ckpt, path = exported
    graph = onnx.load(path).graph
    assert [o.name for o in graph.output] == ['heatmaps', 'displacements']
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[2].dim_param and dims[3].dim_param  # symbolic height and width
    source = build_export_source(BU_CONFIG, ckpt)
    runtime = OnnxBottomupModel(path)
    for h, w in ((128, 128), (96, 160)):
        x = torch.randn(1, 3, h, w)
        with torch.no_grad():
            want = source.model(x, None, mode='tensor')
        got = runtime.run(x.numpy())
        assert [g.shape for g in got] == [(1, 18, h // 4, w // 4), (1, 34, h // 4, w // 4)]
        for a, b in zip(want, got):
            assert np.abs(a.numpy() - b).max() <= 1e-4 * max(1.0, float(a.abs().max()))


def test_metadata_says_bottom_up(exported):
    meta = read_metadata(exported[1])
    assert meta['data_mode'] == 'bottomup' and meta['outputs'] == ['heatmaps', 'displacements']
    assert meta['head']['type'] == 'DEKRHead' and meta['codec']['type'] == 'SPR' and meta['dynamic_size']
    assert meta['test_cfg']['flip_test'] is True
    assert [t['type'] for t in meta['test_pipeline']] == ['LoadImage', 'BottomupResize', 'PackPoseInputs']


def test_runtime_gives_the_torch_people_with_flip_test(exported):
    ckpt, path = exported
    torch_estimator = PoseEstimator.from_config(BU_CONFIG, ckpt, person_thr=-1.0)
    onnx_estimator = PoseEstimator(OnnxBottomupModel(path), person_thr=-1.0)
    img = np.random.default_rng(4).integers(0, 256, (150, 230, 3), dtype=np.uint8)
    want, got = torch_estimator(img), onnx_estimator(img)
    assert len(want) == len(got) > 0
    np.testing.assert_allclose(np.stack([p.keypoints for p in got]), np.stack([p.keypoints for p in want]),
                               atol=1e-2)
    np.testing.assert_allclose([p.bbox_score for p in got], [p.bbox_score for p in want], atol=1e-4)


def test_runtime_decodes_known_people(exported, monkeypatch):
    """Known people encoded as the graph's outputs come back through the runner (decoding entirely in Python)."""
    runtime = OnnxBottomupModel(exported[1])
    runtime.test_cfg['flip_test'] = False
    img = np.zeros((140, 180, 3), np.uint8)
    truth = two_people(140, 180)
    from bottomup_models import oracle_maps
    maps = oracle_maps(build_bottomup_model(), img, truth)
    monkeypatch.setattr(runtime, 'run', lambda x: [m.numpy() for m in maps])
    people = runtime(img)
    got = np.stack([p.keypoints for p in people])
    np.testing.assert_allclose(got[np.argsort(got[:, :, 0].mean(axis=1))], truth, atol=0.2)


@pytest.mark.parametrize('head,name', [(dict(type='CIDHead'), 'CIDHead'), (dict(type='RTMOHead'), 'RTMOHead'),
                                       (dict(type='DEKRHead', rescore_cfg=dict(in_channels=74)), 'rescore_cfg'),
                                       (dict(type='SomeNewHead'), 'SomeNewHead')])
def test_heads_that_cannot_be_split_are_refused_by_name(head, name):
    with pytest.raises(ValueError, match=name):
        output_names(head)
    assert output_names(dict(type='AssociativeEmbeddingHead')) == ('heatmaps', 'tags')


def test_a_top_down_export_is_refused_by_the_bottom_up_runner(tmp_path):
    from convert_utils import config_name, tiny_options
    from vitpose_mm.deploy import export_onnx
    source = build_export_source(config_name(), None, cfg_options=tiny_options(**{'model.backbone.depth': 1}))
    path = export_onnx(source, str(tmp_path / 'td.onnx'))
    with pytest.raises(ValueError, match='top-down'):
        OnnxBottomupModel(path)
