"""Other starting models: one dataset of a ViTPose+ model (its expert folded, its head kept)."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from conftest import ROOT
from ft_utils import write_coco
from random_weights import randomize_
from vitpose_mm.finetune import FinetuneArgs, prepare

PLUS = osp.join(ROOT, 'configs', 'vitpose_plus', 'demo', 'td-hm_ViTPose-plus-micro_1xb16-20e_synthetic-coco-aic-128x96.py')
AIC = ['right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder', 'left_elbow', 'left_wrist', 'right_hip',
       'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle', 'head_top', 'neck']


def test_start_from_one_dataset_of_a_vitpose_plus_model(tmp_path):
    init_default_scope('mmpose')
    plus = randomize_(MODELS.build(Config.fromfile(PLUS).model), seed=4)
    ckpt = str(tmp_path / 'plus.pth')
    torch.save(dict(state_dict=plus.state_dict()), ckpt)
    names = ['neck', 'LeftKnee', 'RightKnee', 'tail']
    ann = write_coco(str(tmp_path), names)
    plan = prepare(FinetuneArgs(ann, str(tmp_path / 'img'), PLUS, str(tmp_path / 'run'), checkpoint=ckpt,
                                dataset='aic'))
    cfg, sd, src = plan['cfg'], plan['state_dict'], plus.state_dict()
    assert cfg.model.type == 'TopdownPoseEstimator' and cfg.model.head.out_channels == 4
    assert 'num_expert' not in cfg.model.backbone
    # the aic expert (1) folded into fc2: shared rows first, then the expert's
    assert torch.equal(sd['backbone.blocks.2.mlp.fc2.weight'],
                       torch.cat([src['backbone.blocks.2.mlp.fc2.weight'], src['backbone.blocks.2.mlp.experts.1.weight']]))
    assert torch.equal(sd['head.deconv_layers.0.weight'], src['heads.aic.deconv_layers.0.weight'])
    w = sd['head.final_layer.weight']
    assert torch.equal(w[0], src['heads.aic.final_layer.weight'][AIC.index('neck')])
    assert torch.equal(w[1], src['heads.aic.final_layer.weight'][AIC.index('left_knee')])
    assert torch.equal(w[2], src['heads.aic.final_layer.weight'][AIC.index('right_knee')])
    assert not osp.exists(tmp_path / 'run')  # prepare writes nothing
