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
from vitpose_mm.deploy.verify_bottomup import match_people


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('onnx_bu')
    ckpt = save_bottomup_checkpoint(str(tmp / 'bu.pth'))
    code = load_tool('export_onnx').main([BU_CONFIG, ckpt, str(tmp / 'bu.onnx')])
    assert code == 0  # the tool's own parity check passed (exit 2 otherwise)
    return ckpt, str(tmp / 'bu.onnx')


def test_every_head_output_equals_torch(exported):
    ckpt, path = exported
    graph = onnx.load(path).graph
    assert [o.name for o in graph.output] == ['heatmaps', 'displacements']
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch axis
    source = build_export_source(BU_CONFIG, ckpt)
    runtime = OnnxBottomupModel(path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = source.model(x, None, mode='tensor')
    got = runtime.run(x.numpy())
    assert [g.shape for g in got] == [(2, 18, 16, 16), (2, 34, 16, 16)]
    for a, b in zip(want, got):
        assert np.abs(a.numpy() - b).max() <= 1e-4 * max(1.0, float(a.abs().max()))
        assert float(a.abs().max()) > 0.01
    with pytest.raises(ValueError, match=r'\(N, 3, 64, 64\)'):
        runtime.run(np.zeros((1, 3, 64, 96), np.float32))


def test_metadata_says_bottom_up(exported):
    meta = read_metadata(exported[1])
    assert meta['data_mode'] == 'bottomup' and meta['outputs'] == ['heatmaps', 'displacements']
    assert meta['head']['type'] == 'DEKRHead' and meta['codec']['type'] == 'SPR' and meta['input_size'] == [64, 64]
    assert meta['test_cfg']['flip_test'] is True
    assert [t['type'] for t in meta['test_pipeline']] == ['LoadImage', 'BottomupResize', 'PackPoseInputs']
    resize = meta['test_pipeline'][1]
    assert resize['resize_mode'] == 'fit' and resize['input_size'] == [64, 64]  # the graph's fixed size


def test_runtime_gives_the_torch_people_with_flip_test(exported):
    ckpt, path = exported
    torch_estimator = PoseEstimator.from_config(BU_CONFIG, ckpt, person_thr=float('-inf'))
    runtime = OnnxBottomupModel(path)
    torch_estimator.pose_model.cfg.test_dataloader.dataset.pipeline = runtime.meta['test_pipeline']  # 'fit'
    onnx_estimator = PoseEstimator(runtime, person_thr=float('-inf'))
    img = np.random.default_rng(4).integers(0, 256, (150, 230, 3), dtype=np.uint8)
    want, got = torch_estimator(img), onnx_estimator(img)
    assert len(want) == len(got) > 0
    shift = match_people(np.stack([p.keypoints for p in want]), np.stack([p.keypoints for p in got]))
    assert np.median(shift) <= 1e-2
    np.testing.assert_allclose(sorted(p.bbox_score for p in got), sorted(p.bbox_score for p in want), atol=1e-4)


def test_runtime_decodes_known_people(exported, monkeypatch):
    """Known people encoded as the graph's outputs come back through the runner (decoding entirely in Python)."""
    runtime = OnnxBottomupModel(exported[1])
    runtime.test_cfg['flip_test'] = False
    img = np.zeros((140, 180, 3), np.uint8)
    truth = two_people(140, 180)
    from bottomup_models import oracle_maps
    model = build_bottomup_model()
    model.cfg.test_dataloader.dataset.pipeline = runtime.meta['test_pipeline']  # what the runtime sees: 'fit'
    maps = oracle_maps(model, img, truth)
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


def test_torchvision_deform_conv_equals_mmcv_with_groups():
    """The exported stand-in of DEKR's per-keypoint deformable convolutions (17 groups, 17 offset groups)."""
    from mmcv.ops import DeformConv2d

    from vitpose_mm.deploy.bottomup import TorchvisionDeformConv2d
    conv = DeformConv2d(34, 34, 3, padding=1, bias=False, groups=17, deform_groups=17)
    x, offset = torch.randn(1, 34, 9, 11), 2 * torch.randn(1, 2 * 9 * 17, 9, 11)
    with torch.no_grad():
        want = conv(x, offset)
        assert (want - TorchvisionDeformConv2d(conv)(x, offset)).abs().max() <= 1e-5
        assert (want - conv(x, torch.zeros_like(offset))).abs().max() > 0.1  # the offsets matter


def test_tools_test_refuses_a_bottom_up_export_by_name(exported):
    with pytest.raises(SystemExit, match='bottom-up export'):
        load_tool('test').main([BU_CONFIG, exported[1]])
