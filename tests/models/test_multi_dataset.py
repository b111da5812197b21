"""ViTPose+ multi-dataset training: routing by dataset, per-dataset losses and gradients, export, bad input."""
import pytest
import torch

from multi_dataset_utils import FLIP, H, KEYPOINTS, W, batch, head_cfg, multi_model, plain_model, sample
from vitpose_mm.checkpoints.multi_dataset import export_dataset


def _heatmaps(out) -> torch.Tensor:
    return torch.stack([o.pred_fields.heatmaps for o in out])


def test_same_crop_different_expert_gives_different_features():
    model = multi_model()
    x = torch.randn(1, 3, H, W).repeat(3, 1, 1, 1)
    with torch.no_grad():
        feats = model.backbone(x, torch.tensor([0, 1, 2]))[0]
        again = model.backbone(x, torch.tensor([0, 0, 0]))[0]
    assert (feats[0] - feats[1]).abs().max() > 1e-2 and (feats[1] - feats[2]).abs().max() > 1e-2
    torch.testing.assert_close(feats[0], again[1], rtol=0, atol=1e-6)  # the same expert: the same output


@pytest.mark.parametrize('flip_test', [False, True])
def test_mixed_batch_predicts_as_each_exported_plain_model(flip_test):
    """Each sample of a mixed batch gets exactly what the plain model exported for its dataset gives (also with the
    flip test, which must use each dataset's own flip indices)."""
    model = multi_model(flip_test=flip_test)
    data = batch(['aic', 'coco', 'mpii', 'coco', 'aic'], seed=3)
    for s in data['data_samples']:
        del s.gt_fields
    with torch.no_grad():
        got = model.predict(data['inputs'], data['data_samples'])
    for name in ('coco', 'aic', 'mpii'):
        plain = plain_model(KEYPOINTS[name], flip_test=flip_test)
        sd, meta, notes = export_dataset(model, name)
        plain.load_state_dict(sd, strict=True)
        assert meta['dataset_name'] == name and meta['num_keypoints'] == KEYPOINTS[name]
        assert meta['flip_indices'] == FLIP[name]
        idx = [i for i, s in enumerate(data['data_samples']) if s.dataset_name == name]
        with torch.no_grad():
            want = plain.predict(data['inputs'][idx], [sample(name, seed=50) for _ in idx])
        diff = (_heatmaps([got[i] for i in idx]) - _heatmaps(want)).abs().max().item()
        assert diff <= 1e-5, (name, diff)
        assert 'folded expert' in notes[0]


def test_tensor_mode_runs_every_head_with_its_expert():
    model = multi_model()
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        out = model(x, None, mode='tensor')
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        'coco': (2, 17, 8, 6), 'aic': (2, 14, 8, 6), 'mpii': (2, 16, 8, 6)}
    plain = plain_model(14)
    plain.load_state_dict(export_dataset(model, 'aic')[0], strict=True)
    with torch.no_grad():
        torch.testing.assert_close(out['aic'], plain(x, None, mode='tensor'), rtol=0, atol=1e-5)


def test_mixed_batch_trains_the_used_experts_and_heads_only():
    model = multi_model(heads=('coco', 'aic', 'mpii', 'ap10k')).train()
    data = batch(['mpii', 'coco', 'aic', 'coco', 'coco', 'mpii'])
    losses = model.loss(data['inputs'], data['data_samples'])
    assert sorted(losses) == ['aic.acc_pose', 'aic.loss_kpt', 'coco.acc_pose', 'coco.loss_kpt', 'mpii.acc_pose',
                              'mpii.loss_kpt']
    # each head's loss is its mean over its own samples, weighted by its share of the batch
    model.eval()  # the same numbers without drop path / BN batch statistics
    losses = model.loss(data['inputs'], data['data_samples'])
    feats = model.extract_feat(data['inputs'], torch.tensor([2, 0, 1, 0, 0, 2]))
    for name, idx in (('coco', [1, 3, 4]), ('aic', [2]), ('mpii', [0, 5])):
        own = model.heads[name].loss(tuple(f[idx] for f in feats), [data['data_samples'][i] for i in idx])
        torch.testing.assert_close(losses[f'{name}.loss_kpt'], own['loss_kpt'] * len(idx) / 6)
    model.train()
    losses = model.loss(data['inputs'], data['data_samples'])
    sum(v for k, v in losses.items() if 'loss' in k).backward()

    def grad(module) -> float:
        return sum(p.grad.abs().sum().item() for p in module.parameters() if p.grad is not None)

    blocks = model.backbone.blocks
    for j, used in enumerate((True, True, True, False)):
        g = sum(grad(b.mlp.experts[j]) for b in blocks)
        assert (g > 0) == used, (j, g)
        assert all(p.grad is not None for b in blocks for p in b.mlp.experts[j].parameters())  # DDP: all used
    for name, used in (('coco', True), ('aic', True), ('mpii', True), ('ap10k', False)):
        assert (grad(model.heads[name]) > 0) == used, name
        assert all(p.grad is not None for p in model.heads[name].parameters())


def test_init_weights_reaches_every_head():
    """Each head gets its own init (std 0.001 for the heatmap head's convolutions, zero biases), as a plain model's
    head does; heads kept in a torch ModuleDict were skipped by mmengine's init_weights (PyTorch's default init:
    heatmaps 70x larger at the start, and joint training stuck on the initial plateau)."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from multi_dataset_utils import backbone_cfg
    init_default_scope('mmpose')
    model = MODELS.build(dict(type='MultiDatasetTopdownPoseEstimator', backbone=backbone_cfg(2, 8),
                              heads=dict(coco=head_cfg(17), aic=head_cfg(14))))
    model.init_weights()
    for name, head in model.heads.items():
        for layer in (head.final_layer, head.deconv_layers[0]):
            assert 0.0008 < layer.weight.std().item() < 0.0012, (name, layer.weight.std().item())
        assert head.final_layer.bias.abs().max().item() == 0.0, name


def test_without_experts_all_datasets_share_the_backbone():
    model = multi_model(part_features=0, num_expert=1)
    assert model.num_expert == 1 and model.experts == dict(coco=0, aic=0, mpii=0)
    data = batch(['coco', 'aic'])
    assert set(model.loss(data['inputs'], data['data_samples'])) == {
        'coco.loss_kpt', 'coco.acc_pose', 'aic.loss_kpt', 'aic.acc_pose'}


def test_eval_with_routes_a_dataset_to_another_head():
    model = multi_model(eval_with=dict(ochuman='coco'))
    data = batch(['coco', 'coco'], seed=4)
    ochuman = sample('ochuman', num_keypoints=17, flip_indices=FLIP['coco'], with_target=False)
    with torch.no_grad():
        a = model.predict(data['inputs'], [sample('coco', with_target=False) for _ in range(2)])
        b = model.predict(data['inputs'], [sample('coco', with_target=False), ochuman])
    torch.testing.assert_close(_heatmaps(a), _heatmaps(b), rtol=0, atol=1e-5)  # groups of other sizes


# ---- bad input --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('source, error, words', [
    ([0, 3], ValueError, ['[3]', '0..2', 'num_expert=3']),
    ([-1, 0], ValueError, ['[-1]', 'num_expert=3']),
    ([0., 2.5], TypeError, ['integer', 'num_expert=3', '2.5']),
    ([True, False], TypeError, ['integer', 'torch.bool']),
    ([0, 1, 2], ValueError, ['3 entries for a batch of 2']),
    ('coco', TypeError, ['integer expert index']),
])
def test_vit_refuses_bad_expert_index(source, error, words):
    model = multi_model()
    with pytest.raises(error) as e:
        model.backbone(torch.randn(2, 3, H, W), source)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_vit_accepts_integer_indices_of_any_container():
    model = multi_model()
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        want = model.backbone(x, torch.tensor([2, 1]))[0]
        for source in ([2, 1], (2, 1), torch.tensor([2, 1], dtype=torch.int32)):
            torch.testing.assert_close(model.backbone(x, source)[0], want, rtol=0, atol=0)


def test_vit_reads_no_index_value_off_the_host():
    """Indices not on the CPU are passed through unread (reading them would synchronise the device at every step):
    on the meta device, where any read of a value fails, the forward pass runs; dtype and count are still checked."""
    with torch.device('meta'):
        model = multi_model()
        x = torch.empty(2, 3, H, W)
        out = model.backbone(x, torch.tensor([0, 7]))[0]  # 7 is not read here: the estimator checks on the host
        assert out.shape[0] == 2 and out.device.type == 'meta'
        with pytest.raises(TypeError, match='torch.float32'):
            model.backbone(x, torch.tensor([0., 1.]))
        with pytest.raises(ValueError, match='3 entries'):
            model.backbone(x, torch.tensor([0, 1, 2]))


def test_estimator_checks_the_expert_indices_it_routes_on_the_host(monkeypatch):
    model = multi_model()
    data = batch(['coco', 'aic'])
    model.experts['aic'] = 5  # after construction, which checked it
    seen = []
    monkeypatch.setattr(model.backbone, 'forward', lambda *args: seen.append(args) or pytest.fail('reached the ViT'))
    with pytest.raises(ValueError, match=r'\[5\] outside 0\.\.2'):
        model.loss(data['inputs'], data['data_samples'])
    assert not seen


def test_plain_estimator_with_experts_warns_once_when_training():
    """A Python warning and the same line in the training log (MMLogger), once."""
    import logging

    import numpy as np
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    from multi_dataset_utils import backbone_cfg
    init_default_scope('mmpose')
    model = MODELS.build(dict(type='TopdownPoseEstimator', backbone=backbone_cfg(6, 8), head=head_cfg(17))).train()
    data = batch(['coco', 'coco'])
    logged = []
    handler = logging.Handler()
    handler.emit = logged.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        with pytest.warns(UserWarning, match='num_expert=6.*dataset_source') as record:
            model.loss(data['inputs'], data['data_samples'])
    finally:
        logger.removeHandler(handler)
    message = next(str(r.message) for r in record if 'num_expert=6' in str(r.message))
    assert 'MultiDatasetTopdownPoseEstimator' in message and 'default_dataset=0' in message
    assert [(r.levelno, r.getMessage()) for r in logged if 'num_expert' in r.getMessage()] == [
        (logging.WARNING, message)]
    import warnings
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter('always')
        model.loss(data['inputs'], data['data_samples'])  # once only
        model.eval()
        with torch.no_grad():
            model(data['inputs'], None, mode='tensor')  # inference on default_dataset: no warning
    assert not [w for w in again if 'num_expert=6' in str(w.message)]
    assert np.isfinite(model.loss(data['inputs'], data['data_samples'])['loss_kpt'].item())


def test_sample_of_a_dataset_without_head_is_refused():
    model = multi_model()
    with pytest.raises(KeyError, match=r"'ap10k'.*\['coco', 'aic', 'mpii'\]"):
        model.loss(torch.randn(2, 3, H, W), [sample('coco'), sample('ap10k')])


def test_keypoint_count_differing_from_the_head_is_refused():
    model = multi_model()
    with pytest.raises(ValueError, match=r"'aic'.*17.*14.*out_channels"):
        model.loss(torch.randn(2, 3, H, W), [sample('coco'), sample('aic', num_keypoints=17)])


def test_keypoint_count_is_read_from_ground_truth_without_flip_indices():
    """A sample whose metainfo has no flip indices is counted by its ground-truth keypoints (an AIC sample with
    COCO's 17 keypoints is refused; with AIC's 14 it trains)."""
    import numpy as np
    from mmengine.structures import InstanceData

    def without_flip(name, k):
        s = sample(name, num_keypoints=k)
        s.set_metainfo(dict(flip_indices=None))
        s.gt_instances = InstanceData(bboxes=np.array([[0., 0., W, H]]), keypoints=np.zeros((1, k, 2)))
        return s
    model = multi_model().train()
    with pytest.raises(ValueError, match="'aic'.*17"):
        model.loss(torch.randn(2, 3, H, W), [sample('coco'), without_flip('aic', 17)])
    losses = model.loss(torch.randn(2, 3, H, W), [sample('coco'), without_flip('aic', 14)])
    assert {'coco.loss_kpt', 'aic.loss_kpt'} <= set(losses)


def test_accuracies_are_not_weighted_by_the_batch_share():
    """Only losses are weighted by each dataset's share of the batch; accuracies stay each head's own."""
    model = multi_model()
    data = batch(['coco', 'aic', 'coco'], seed=4)
    feats = model.extract_feat(data['inputs'], torch.tensor([0, 1, 0]))
    with torch.no_grad():  # targets = the model's own heatmaps: every keypoint found, accuracy 1
        mine = model.heads['coco'](tuple(f[[0, 2]] for f in feats))
    for j, i in enumerate((0, 2)):
        data['data_samples'][i].gt_fields.heatmaps = mine[j].clone()
    losses = model.loss(data['inputs'], data['data_samples'])
    own = model.heads['coco'].loss(tuple(f[[0, 2]] for f in feats), [data['data_samples'][i] for i in (0, 2)])
    assert float(own['acc_pose']) == 1.0  # a weighting by the share (2/3) would change it
    torch.testing.assert_close(losses['coco.acc_pose'], own['acc_pose'])
    torch.testing.assert_close(losses['coco.loss_kpt'], own['loss_kpt'] * 2 / 3)


def test_flip_test_is_off_unless_the_config_asks():
    model = multi_model(flip_test=False)
    data = batch(['coco', 'coco'], seed=5)
    for s in data['data_samples']:
        del s.gt_fields
    with torch.no_grad():
        off = _heatmaps(model.predict(data['inputs'], data['data_samples']))
        del model.test_cfg['flip_test']
        unset = _heatmaps(model.predict(data['inputs'], data['data_samples']))
        model.test_cfg['flip_test'] = True
        on = _heatmaps(model.predict(data['inputs'], data['data_samples']))
    assert torch.equal(off, unset)
    assert (on - off).abs().max() > 1e-3


def test_sample_without_dataset_name_is_refused():
    model = multi_model()
    s = sample('coco')
    s.set_metainfo(dict(dataset_name=None))
    with pytest.raises(ValueError, match='dataset_name'):
        model.predict(torch.randn(1, 3, H, W), [s])


@pytest.mark.parametrize('kwargs, words', [
    (dict(experts=dict(coco=0, aic=1)), "['aic', 'coco']"),
    (dict(experts=dict(coco=0, aic=1, mpii=3)), "experts['mpii']=3"),
    (dict(experts=dict(coco=0, aic=1, mpii=1.0)), "experts['mpii']=1.0"),
    (dict(eval_with=dict(ochuman='crowdpose')), "'crowdpose'"),
    (dict(metainfo=dict(from_file='configs/_base_/datasets/coco.py')), 'metainfo'),
])
def test_bad_model_arguments_are_refused(kwargs, words):
    with pytest.raises(ValueError) as e:
        multi_model(**kwargs)
    assert words in str(e.value)


def test_more_heads_than_experts_is_refused():
    with pytest.raises(ValueError, match='4 heads.*3 experts'):
        multi_model(heads=('coco', 'aic', 'mpii', 'ap10k'), num_expert=3)


def test_export_of_a_missing_dataset_is_refused():
    with pytest.raises(KeyError, match="'ap10k'"):
        export_dataset(multi_model(), 'ap10k')


# ---- routing, backbone calls and outputs ------------------------------------------------------------------------
def test_groups_and_losses_follow_the_order_of_heads():
    """route groups a batch in the order of ``heads`` (not by name; a dataset mapped by eval_with right after its
    head's own), and the losses are logged in that order."""
    model = multi_model(heads=('mpii', 'coco', 'aic'), eval_with=dict(ochuman='coco')).train()
    ochuman = sample('ochuman', num_keypoints=17, flip_indices=FLIP['coco'])
    samples = [sample('aic'), ochuman, sample('coco'), sample('mpii'), sample('coco', seed=1)]
    groups, source = model.route(samples, torch.device('cpu'))
    assert [(name, index.tolist()) for name, index in groups.items()] == [
        ('mpii', [3]), ('coco', [2, 4]), ('ochuman', [1]), ('aic', [0])]
    assert source.tolist() == [2, 1, 1, 0, 1]  # experts by position in heads: mpii 0, coco 1, aic 2
    losses = model.loss(torch.randn(5, 3, H, W), samples)
    assert [k for k in losses if k.endswith('loss_kpt')] == [
        'mpii.loss_kpt', 'coco.loss_kpt', 'ochuman.loss_kpt', 'aic.loss_kpt']


def test_samples_without_keypoint_counts_are_routed():
    """A sample whose metainfo has no flip indices and whose ground truth has no keypoints (or that has no ground
    truth at all) has no keypoint count to check: it is routed by its dataset name alone."""
    from mmpose.structures import PoseDataSample
    boxes_only = sample('aic', with_target=False)
    boxes_only.set_metainfo(dict(flip_indices=None))
    bare = PoseDataSample(metainfo=dict(dataset_name='mpii'))
    groups, source = multi_model().route([boxes_only, bare], torch.device('cpu'))
    assert {name: index.tolist() for name, index in groups.items()} == {'aic': [0], 'mpii': [1]}
    assert source.tolist() == [1, 2]


def test_train_cfg_reaches_every_head():
    """The model's train_cfg goes to each head's loss: compute_acc=False leaves out the accuracies."""
    data = batch(['coco', 'aic'])
    losses = multi_model(train_cfg=dict(compute_acc=False)).loss(data['inputs'], data['data_samples'])
    assert sorted(losses) == ['aic.loss_kpt', 'coco.loss_kpt']


def test_each_expert_count_calls_the_backbone_as_it_takes_it():
    """Two experts already route by dataset_source; a backbone without experts (mmpose's ResNet) is called with
    the image only and shared by every head."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    two = multi_model(heads=('coco', 'aic'))
    assert two.num_expert == 2
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        first, second = (two.extract_feat(x, torch.tensor([e, e]))[0] for e in (0, 1))
        torch.testing.assert_close(second, two.backbone(x, torch.tensor([1, 1]))[0], rtol=0, atol=0)
    assert (first - second).abs().max() > 1e-2
    init_default_scope('mmpose')
    resnet = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8, out_indices=(3, ))  # 64 channels
    heads = {name: dict(head_cfg(KEYPOINTS[name]), in_channels=64) for name in ('coco', 'aic')}
    model = MODELS.build(dict(type='MultiDatasetTopdownPoseEstimator', backbone=resnet, heads=heads)).eval()
    assert model.num_expert == 1
    with torch.no_grad():
        out = model(x, None, mode='tensor')
        feats = model.backbone(x)
        for name in ('coco', 'aic'):
            torch.testing.assert_close(out[name], model.heads[name](feats), rtol=0, atol=0)


def test_neck_runs_between_backbone_and_heads():
    """With a neck (mmpose's FeatureMapProcessor with a ReLU) the heads get the neck's output."""
    model = multi_model(neck=dict(type='FeatureMapProcessor', apply_relu=True))
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        raw = model.backbone(x, torch.tensor([0, 1]))[0]
        feats = model.extract_feat(x, torch.tensor([0, 1]))[0]
    assert raw.min() < 0
    torch.testing.assert_close(feats, raw.clamp(min=0), rtol=0, atol=0)


@pytest.mark.parametrize('flip_test', [False, True])
def test_backbone_runs_once_per_view(flip_test):
    """predict runs the backbone once, and once more for the flipped view only when the flip test is on."""
    model = multi_model(flip_test=flip_test)
    calls = []
    model.backbone.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    data = batch(['coco', 'aic', 'coco'])
    with torch.no_grad():
        model.predict(data['inputs'], data['data_samples'])
    assert calls == [3] * (2 if flip_test else 1)


def test_predictions_without_heatmaps():
    """With output_heatmaps off each sample gets its keypoints (the same as with heatmaps) and no pred_fields, in
    groups of one and of three."""
    model = multi_model()
    data = batch(['aic', 'coco', 'coco', 'mpii', 'coco'], seed=6)
    with torch.no_grad():
        with_maps = model.predict(data['inputs'], [sample(s.dataset_name, with_target=False)
                                                   for s in data['data_samples']])
        model.test_cfg['output_heatmaps'] = False
        without = model.predict(data['inputs'], [sample(s.dataset_name, with_target=False)
                                                 for s in data['data_samples']])
    for a, b, name in zip(with_maps, without, ('aic', 'coco', 'coco', 'mpii', 'coco')):
        assert 'pred_fields' in a and 'pred_fields' not in b
        assert b.pred_instances.keypoints.shape == (1, KEYPOINTS[name], 2)
        torch.testing.assert_close(b.pred_instances.keypoints, a.pred_instances.keypoints, rtol=0, atol=0)


def test_two_experts_take_one_dataset_each_and_refuse_a_third():
    """The default expert mapping at the smallest expert count: two heads on a 2-expert backbone get experts 0 and
    1; a third head needs an explicit mapping."""
    assert multi_model(heads=('coco', 'aic'), num_expert=2).experts == {'coco': 0, 'aic': 1}
    with pytest.raises(ValueError, match='3 heads.*2 experts'):
        multi_model(heads=('coco', 'aic', 'mpii'), num_expert=2)


def test_data_preprocessor_and_init_cfg_reach_the_model():
    """The configured data preprocessor (mmpose's, with the ImageNet mean and std of the ViTPose configs) and the
    model's ``init_cfg`` are the ones given, as in mmpose's TopdownPoseEstimator."""
    pre = dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
               bgr_to_rgb=True)
    init = dict(type='Pretrained', checkpoint='whole_model.pth')
    model = multi_model(data_preprocessor=pre, init_cfg=init)
    assert type(model.data_preprocessor).__name__ == 'PoseDataPreprocessor'
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx(pre['mean'])
    assert model.data_preprocessor._channel_conversion
    assert model.init_cfg == init


def test_a_backbone_without_part_features_has_one_shared_expert():
    """``num_expert`` counts only with ViTPose+ part features: a ViT built with num_expert=2 but part_features=0 has
    plain MLPs, so every dataset maps to expert 0."""
    model = multi_model(heads=('coco', 'aic'), num_expert=2, part_features=0)
    assert model.num_expert == 1 and model.experts == {'coco': 0, 'aic': 0}
