"""Adding a dataset to a trained ViTPose+ model: the old datasets' outputs stay bitwise the same."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from multi_dataset_utils import H, W, multi_model, sample
from vitpose_mm.finetune.config import extend_model_cfg
from vitpose_mm.finetune.errors import FinetuneError
from vitpose_mm.finetune.weights import append_expert_and_head
from test_weights import COCO

NEW = ['head', 'neck', 'RightShoulder', 'RightElbow', 'RightWrist', 'LeftShoulder', 'LeftElbow', 'LeftWrist', 'pelvis']


def _extended(train_shared=False):
    old = multi_model(('coco', 'aic'), part_features=8)
    cfg, trainable, _ = extend_model_cfg(_model_cfg(old), 'upper', 9, train_shared)
    init_default_scope('mmpose')
    new = MODELS.build(cfg)
    sd, notes = append_expert_and_head(old.state_dict(), new, 'upper', 'coco', COCO, NEW)
    new.load_state_dict(sd, strict=True)
    return old, new, notes


def _model_cfg(model):
    from multi_dataset_utils import backbone_cfg, head_cfg
    return dict(type='MultiDatasetTopdownPoseEstimator', backbone=backbone_cfg(2, 8),
                heads=dict(coco=head_cfg(17), aic=head_cfg(14)),
                test_cfg=dict(flip_test=False, output_heatmaps=True))


def _train(model, steps=3):
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.1),
        constructor='ViTPoseLayerDecayOptimWrapperConstructor', paramwise_cfg=dict(layer_decay_rate=0.9)))
    seen = {id(p) for group in wrapper.optimizer.param_groups for p in group['params']}
    model.train()
    for step in range(steps):
        g = torch.Generator().manual_seed(step)
        inputs = torch.randn(4, 3, H, W, generator=g)
        # one sample of an old dataset per batch: its frozen head runs in training (BatchNorm must stay in eval)
        samples = [sample(d, seed=step * 4 + i, num_keypoints=9 if d == 'upper' else None)
                   for i, d in enumerate(('upper', 'upper', 'coco', 'upper'))]
        loss, _ = model.parse_losses(model.loss(inputs, samples))
        wrapper.update_params(loss)
    model.eval()
    return seen


def test_new_expert_and_head_start_from_the_closest_dataset():
    old, new, notes = _extended()
    sd, osd = new.state_dict(), old.state_dict()
    assert torch.equal(sd['backbone.blocks.1.mlp.experts.2.weight'], osd['backbone.blocks.1.mlp.experts.0.weight'])
    assert torch.equal(sd['heads.upper.deconv_layers.0.weight'], osd['heads.coco.deconv_layers.0.weight'])
    # RightShoulder <- right_shoulder (COCO channel 6), head has no COCO channel
    assert torch.equal(sd['heads.upper.final_layer.weight'][2], osd['heads.coco.final_layer.weight'][6])
    assert not torch.equal(sd['heads.upper.final_layer.weight'][0], osd['heads.coco.final_layer.weight'][0])
    assert new.experts == dict(coco=0, aic=1, upper=2)
    assert any('copy of expert 0 (coco)' in n for n in notes)


def test_old_datasets_bitwise_after_training_the_new_one():
    old, new, _ = _extended()
    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, 3, H, W, generator=g)
    with torch.no_grad():
        before = old._forward(x)
        upper_before = new._forward(x)['upper'].clone()
    frozen = {n for n, p in new.named_parameters() if not p.requires_grad}
    before_params = copy.deepcopy(new.state_dict())
    seen = _train(new)
    # the optimizer never sees a frozen parameter
    assert seen == {id(p) for p in new.parameters() if p.requires_grad}
    trained = {n for n, p in new.named_parameters() if p.requires_grad}
    assert trained == {n for n in before_params if n.startswith('heads.upper.') and 'running' not in n
                       and 'num_batches' not in n} | {n for n in before_params if '.experts.2.' in n}
    after = new.state_dict()
    for name, value in before_params.items():
        same = torch.equal(after[name], value)
        if name in frozen or name.startswith(('heads.coco.', 'heads.aic.')):
            assert same, name
    assert not torch.equal(after['backbone.blocks.0.mlp.experts.2.weight'],
                           before_params['backbone.blocks.0.mlp.experts.2.weight'])
    with torch.no_grad():
        out = new._forward(x)
    for name in ('coco', 'aic'):
        assert torch.equal(out[name], before[name]), name
    assert not torch.equal(out['upper'], upper_before)


def test_train_shared_changes_the_shared_weights_only():
    old, new, _ = _extended(train_shared=True)
    before = copy.deepcopy(new.state_dict())
    _train(new, steps=2)
    after = new.state_dict()
    assert not torch.equal(after['backbone.blocks.0.attn.qkv.weight'], before['backbone.blocks.0.attn.qkv.weight'])
    for name in ('backbone.blocks.0.mlp.experts.0.weight', 'heads.coco.final_layer.weight',
                 'heads.aic.deconv_layers.1.running_mean'):
        assert torch.equal(after[name], before[name]), name


def test_refusals():
    old = multi_model(('coco', 'aic'), part_features=8)
    with pytest.raises(FinetuneError, match="'coco'"):
        extend_model_cfg(_model_cfg(old), 'coco', 17)
    cfg = _model_cfg(old)
    cfg['backbone'].update(part_features=0, num_expert=1)
    with pytest.raises(FinetuneError, match='part_features'):
        extend_model_cfg(cfg, 'upper', 9)
    init_default_scope('mmpose')
    with pytest.raises(ValueError, match='nothing_here'):
        MODELS.build(dict(_model_cfg(old), trainable=[r'nothing_here\..+']))
