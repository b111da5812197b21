"""The ``preprocessor_config.json`` of an exported HF folder: the model's own crop size, mean and std, in the fields
transformers' ``VitPoseImageProcessor`` reads; with .venv-hf, HF's own ``VitPoseImageProcessor.from_pretrained``
makes crops the exported model runs."""
import ast
import json
import os
import os.path as osp
import subprocess

import numpy as np
import pytest

from test_hf_fixture import FIXTURE, _hf_folder
from vitpose_mm.checkpoints import convert_checkpoint, save_hf
from vitpose_mm.checkpoints.hf import hf_preprocessor_config_for

from conftest import ROOT

HF_PYTHON = osp.join(ROOT, '.venv-hf', 'bin', 'python')
HF_READY = osp.join(ROOT, '.venv-hf', '.setup-done')
HF_SCRIPT = osp.join(ROOT, 'tests', 'hf_reference.py')
# VitPoseImageProcessor.__init__'s arguments in transformers 4.57.6 (models/vitpose/image_processing_vitpose.py)
PROCESSOR_ARGS = {'do_affine_transform', 'size', 'do_rescale', 'rescale_factor', 'do_normalize', 'image_mean',
                  'image_std'}


@pytest.fixture(scope='module')
def ref():
    return dict(np.load(FIXTURE))


def _processor_source() -> str:
    import glob
    found = glob.glob(osp.join(ROOT, '.venv-hf', 'lib', 'python3*', 'site-packages', 'transformers', 'models',
                               'vitpose', 'image_processing_vitpose.py'))
    return found[0] if found else ''


def test_the_pinned_arguments_are_transformers_own():
    path = _processor_source()
    if not path:
        pytest.skip('no .venv-hf with transformers: the pinned argument names stand for its source')
    tree = ast.parse(open(path).read())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == 'VitPoseImageProcessor')
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == '__init__')
    assert {a.arg for a in init.args.args[1:]} == PROCESSOR_ARGS


def test_export_writes_the_models_crop_and_normalization(ref, tmp_path):
    conv = convert_checkpoint(_hf_folder(ref, 'classic', tmp_path))  # a 64x48 model: not the HF default 256x192
    save_hf(conv, str(tmp_path / 'out'))
    with open(tmp_path / 'out' / 'preprocessor_config.json') as f:
        written = json.load(f)
    assert written.pop('image_processor_type') == 'VitPoseImageProcessor'  # the class AutoImageProcessor builds
    assert set(written) == PROCESSOR_ARGS
    assert written['size'] == {'height': 64, 'width': 48}
    assert written['do_affine_transform'] and written['do_rescale'] and written['do_normalize']
    assert written['rescale_factor'] == pytest.approx(1 / 255)
    # ViTPose's 0-255 ImageNet mean/std on the processor's 0-1 scale
    np.testing.assert_allclose(written['image_mean'], [0.485, 0.456, 0.406], atol=1e-6)
    np.testing.assert_allclose(written['image_std'], [0.229, 0.224, 0.225], atol=1e-6)


def test_a_config_of_its_own_normalization_is_written(ref, tmp_path):
    conv = convert_checkpoint(_hf_folder(ref, 'classic', tmp_path))
    got = hf_preprocessor_config_for(conv.arch, mean=(127.5, 127.5, 127.5), std=(51.0, 25.5, 255.0))
    assert got['image_mean'] == [0.5, 0.5, 0.5] and got['image_std'] == [0.2, 0.1, 1.0]


@pytest.mark.slow
@pytest.mark.skipif(not osp.isfile(HF_READY), reason=f'{HF_READY} not found: the HF environment is made by `make '
                    'test` (tools/setup_hf_env.sh); without it HF\'s own processor cannot run')
def test_hfs_own_processor_from_the_folder_feeds_the_folders_model(ref, tmp_path):
    conv = convert_checkpoint(_hf_folder(ref, 'classic', tmp_path))
    folder = tmp_path / 'out'
    save_hf(conv, str(folder))
    # an image of the normalization's mean colour: every crop pixel inside the image normalizes to 0
    image = np.tile(np.array([123.675, 116.28, 103.53], np.float32).round().astype(np.uint8), (120, 160, 1))
    np.savez(tmp_path / 'image.npz', image=image, boxes=np.array([[40., 20., 60., 80.]]))  # x, y, w, h (COCO)
    jobs = tmp_path / 'jobs.json'
    jobs.write_text(json.dumps({'preprocess': [[str(folder), str(tmp_path / 'image.npz'), str(tmp_path / 'o.npz')]]}))
    proc = subprocess.run([HF_PYTHON, HF_SCRIPT, 'run', str(jobs)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_NO_ADVISORY_WARNINGS': '1'})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / 'o.npz')
    assert out['pixel_values'].shape == (1, 3, 64, 48)  # the model's crop, not HF's default 256x192
    assert list(out['size']) == [64, 48]
    assert out['heatmaps'].shape == (1, 17, 16, 12)
    inside = out['pixel_values'][0, :, 16:48, 12:36]  # the box's middle: well inside the image
    assert np.abs(inside).max() < 0.02, np.abs(inside).max()  # (mean colour rounded to whole pixel values)


def test_convert_tool_writes_the_configs_own_normalization(ref, tmp_path):
    """``tools/convert_checkpoint.py --to hf --config``: mean and std come from the config's data preprocessor."""
    from convert_utils import config_name
    from vitpose_mm.checkpoints.convert_file import convert_file
    src = _hf_folder(ref, 'classic', tmp_path)
    opts = dict(convert_checkpoint(src).arch.cfg_options())
    opts.update({'model.backbone.init_cfg': None, 'model.backbone.img_size': (64, 48),
                 'model.data_preprocessor.mean': [127.5, 127.5, 127.5], 'model.data_preprocessor.std': [51., 51., 51.]})
    convert_file(src, str(tmp_path / 'out'), to='hf', config=config_name(), cfg_options=opts, log=lambda *a: None)
    with open(tmp_path / 'out' / 'preprocessor_config.json') as f:
        written = json.load(f)
    assert written['size'] == {'height': 64, 'width': 48}
    assert written['image_mean'] == [0.5, 0.5, 0.5] and written['image_std'] == [0.2, 0.2, 0.2]
