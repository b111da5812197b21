"""An export evaluated by tools/test.py (CONFIG MODEL.onnx): the same metrics as its checkpoint for fp32, int8 close
to them, and exports that do not fit the config refused."""
import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch

from conftest import load_tool
from convert_utils import config_name, tiny_options
from tiny_train import DEMO_CFG, overfit_tiny_model
from vitpose_mm.checkpoints import CheckpointMismatchError
from vitpose_mm.deploy import build_export_source, build_onnx_runner, check_parity, export_onnx, read_metadata

AP10K = 'td-hm_ViTPose-base_8xb64-210e_ap10k-256x192'
ANN = 'annotations/person_keypoints_train.json'
TINY = {'model.backbone.embed_dim': 64, 'model.backbone.depth': 2, 'model.backbone.num_heads': 4,
        'model.head.in_channels': 64, 'model.head.num_deconv_filters': (32, 32)}


def cli(opts: dict) -> list:
    return [f'{k}={v}'.replace(' ', '') for k, v in opts.items()]


@pytest.fixture(scope='module')
def exports(tmp_path_factory):
    """The tiny demo model trained 60 steps on 4 synthetic images (peaked heatmaps), its checkpoint, and its fp32
    and int8 exports; the tests evaluate on those 4 images (a model this small finds keypoints only there)."""
    tmp = tmp_path_factory.mktemp('onnx_eval')
    model, _, losses = overfit_tiny_model(str(tmp / 'train'), steps=60)
    assert losses[-1] < losses[0] / 3
    ckpt = str(tmp / 'tiny.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    source = build_export_source(DEMO_CFG, ckpt, cfg_options=TINY)
    paths = {p: export_onnx(source, str(tmp / f'{p}.onnx'), p) for p in ('fp32', 'int8')}
    return dict(source=source, ckpt=ckpt, data=str(tmp / 'train'), tmp=tmp, **paths)


def evaluate(exports, model_file: str, name: str, extra=()) -> dict:
    data, work = exports['data'], exports['tmp'] / name
    opts = dict(TINY, **{'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False,
                         'test_dataloader.dataset.data_root': data,
                         'test_dataloader.dataset.ann_file': ANN,
                         'test_dataloader.dataset.data_prefix.img': 'train/',
                         'test_evaluator.ann_file': osp.join(data, ANN),
                         'visualizer.name': f'onnx_eval_{name}'})
    load_tool('test').main([DEMO_CFG, model_file, '--work-dir', str(work), '--out', str(work / 'preds.pkl'),
                            '--cfg-options', *cli(opts), *extra])
    with open(work / 'metrics.json') as f:
        return dict(json.load(f), preds=str(work / 'preds.pkl'))


@pytest.mark.slow  # the `exports` fixture exports and evaluates a model: about 60 s of CPU
def test_int8_export_is_quantized_and_close_to_fp32(exports):
    graph = onnx.load(exports['int8']).graph
    ops = {n.op_type for n in graph.node}
    assert {'MatMulInteger', 'ConvInteger', 'DynamicQuantizeLinear'} <= ops
    int8 = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8) >= 2 * 4 + 2  # 4 projections per block, the patch embedding, the final 1x1 convolution
    assert read_metadata(exports['int8'])['precision'] == 'int8'
    report = check_parity(exports['source'].model, exports['int8'], read_metadata(exports['int8']), batch=4)
    assert report.passed, str(report)
    assert report.heatmap_max_abs > 1e-4  # really int8 arithmetic, not the fp32 graph


@pytest.mark.slow  # the `exports` fixture exports and evaluates a model: about 60 s of CPU
def test_int8_export_runs_at_any_batch(exports):
    x = torch.randn(3, 3, 128, 96)
    with torch.no_grad():
        want = exports['source'].model(x, None, mode='tensor').numpy()
    got = build_onnx_runner(exports['int8'])(x.numpy())
    assert got.shape == want.shape == (3, 17, 32, 24)
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()


@pytest.mark.slow  # the `exports` fixture exports and evaluates a model: about 60 s of CPU
def test_export_evaluates_as_its_checkpoint(exports):
    """The config's data, pipeline and metric, the export's network: fp32 gives the checkpoint's metrics, int8
    close to them."""
    from vitpose_mm.analysis.compare_predictions import keypoint_displacement
    want = evaluate(exports, exports['ckpt'], 'torch')
    fp32 = evaluate(exports, exports['fp32'], 'fp32')
    int8 = evaluate(exports, exports['int8'], 'int8')
    assert want['coco/AP'] > 0.05  # a model that finds keypoints, so that the comparison means something
    assert set(fp32) == set(want)
    for key in want:
        if key != 'preds':
            assert fp32[key] == pytest.approx(want[key], abs=1e-6), key
    assert int8['coco/AP'] == pytest.approx(want['coco/AP'], abs=0.05)
    log = ''.join(p.read_text() for p in (exports['tmp'] / 'int8').rglob('*.log'))
    assert any(exports['int8'] in line and 'int8' in line and 'CPUExecutionProvider' in line
               for line in log.splitlines())
    # the keypoints themselves (image pixels): fp32 those of torch, int8 really another computation, close
    exact = keypoint_displacement(want['preds'], fp32['preds'])
    assert exact['median'] <= 1e-4 and exact['max'] <= 0.05
    shift = keypoint_displacement(want['preds'], int8['preds'])
    assert 1e-3 < shift['mean'] and shift['median'] <= 0.5


@pytest.mark.slow  # the `exports` fixture exports and evaluates a model: about 60 s of CPU
def test_export_of_other_crops_is_refused_by_the_tool(exports, tmp_path):
    """A 256x192 export evaluated with the 128x96 demo config stops before testing, naming both crop sizes."""
    source = build_export_source(config_name(), None, cfg_options=tiny_options(**{'model.backbone.depth': 1}))
    path = export_onnx(source, str(tmp_path / 'coco256.onnx'))
    with pytest.raises(SystemExit, match=r'input_size=\[192, 256\].*input_size=\[96, 128\]'):
        evaluate(exports, path, 'wrong_crops')


@pytest.mark.slow  # the `exports` fixture exports and evaluates a model: about 60 s of CPU
def test_export_of_other_keypoints_is_refused(exports, tmp_path):
    """An AP-10K export against COCO's keypoints: refused (or warned with dataset_check='warn'), as a checkpoint."""
    from vitpose_mm.deploy import OnnxPoseModel
    from vitpose_mm.deploy.evaluate import check_export_fits
    ap10k = build_export_source(AP10K, None, cfg_options=tiny_options(**{'model.backbone.depth': 1}))
    path = export_onnx(ap10k, str(tmp_path / 'ap10k.onnx'))
    no_pipeline = SimpleNamespace(pipeline=None, metainfo=exports['source'].dataset_meta)  # the demo's COCO keypoints
    with pytest.raises(CheckpointMismatchError, match="'ap10k'") as err:
        check_export_fits(OnnxPoseModel(path), no_pipeline, path)
    text = str(err.value)  # the fix for an export: another config, or warn; no fine-tuning advice
    assert 'configs/ap10k/' in text and 'load_from' not in text
    assert '--cfg-options checkpoint_loading.dataset_check=warn' in text
    check_export_fits(OnnxPoseModel(path), SimpleNamespace(pipeline=None, metainfo=ap10k.dataset_meta), path)


@pytest.mark.slow  # the `exports` fixture exports and evaluates a model: about 60 s of CPU
def test_files_that_are_no_export_are_refused_before_testing(exports, tmp_path):
    import onnx
    fake = tmp_path / 'fake.onnx'
    fake.write_text('not a model')
    with pytest.raises(SystemExit, match=r'error: .*fake.onnx'):
        load_tool('test').main([DEMO_CFG, str(fake)])
    bare = onnx.load(exports['fp32'])
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / 'bare.onnx'))
    with pytest.raises(SystemExit, match=r"error: .*bare.onnx.*'vitpose_mm'"):
        load_tool('test').main([DEMO_CFG, str(tmp_path / 'bare.onnx')])


def test_export_tool_refuses_unwritable_outputs_before_exporting(tmp_path, capsys):
    (tmp_path / 'a_file').write_text('x')
    for out, words in ((tmp_path, f'{tmp_path} is a folder'),
                       (tmp_path / 'a_file' / 'x.onnx', f"{tmp_path / 'a_file'} is a file")):
        code = load_tool('export_onnx').main([DEMO_CFG, 'none', str(out), '--int8'])
        err = capsys.readouterr()
        assert code == 1 and words in err.err and 'exporting' not in err.out + err.err


@pytest.mark.slow  # the `exports` fixture exports and evaluates a model: about 60 s of CPU
def test_test_tool_refuses_checkpoint_options_with_an_export(exports):
    with pytest.raises(SystemExit, match='--precision'):
        load_tool('test').main([DEMO_CFG, exports['int8'], '--precision', 'bf16'])


def test_export_tool_takes_one_precision(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        load_tool('export_onnx').main([DEMO_CFG, 'none', str(tmp_path / 'x.onnx'), '--fp16', '--int8'])
    assert e.value.code == 2 and 'not allowed with argument' in capsys.readouterr().err
    assert not (tmp_path / 'x.onnx').exists()
