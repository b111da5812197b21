"""Layer decay cannot be lost silently: mmpose's LayerDecayOptimWrapperConstructor and this package's, each on this
package's ViT and on mmpose 1.3.2's own ViTPose-B config (mmpose's .mim configs) with the backbone swapped. The check
is the run's ``LayerDecayCheckHook`` (before training), which the package's runners register."""
import os.path as osp
import warnings
from types import SimpleNamespace

import mmpose
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import mmpose.engine.optim_wrappers.layer_decay_optim_wrapper  # noqa: F401  (mmpose's constructor, as its configs import it)
from mmpose.registry import MODELS
from vitpose_mm.engine import ViTPoseRunner
from vitpose_mm.engine.optim_wrappers import LayerDecayCheckHook, LayerDecayWarning, layer_decay_problem

MMPOSE_VITPOSE_B = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint', 'topdown_heatmap',
                            'coco', 'td-hm_ViTPose-base_8xb64-210e_coco-256x192.py')
DEPTH, RATE = 3, 0.75
SMALL_VIT = dict(type='ViT', img_size=(64, 48), patch_size=16, embed_dim=32, depth=DEPTH, num_heads=2, qkv_bias=True)
OURS = dict(constructor='ViTPoseLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(num_layers=DEPTH, layer_decay_rate=RATE))


def _mmpose_config(backbone: dict, optim_override: dict = None) -> Config:
    """mmpose's ViTPose-B config, its backbone replaced by ``backbone`` (head in_channels follows)."""
    if not osp.isfile(MMPOSE_VITPOSE_B):
        pytest.skip(f'mmpose configs not installed: {MMPOSE_VITPOSE_B}')
    cfg = Config.fromfile(MMPOSE_VITPOSE_B)
    cfg.model.backbone = backbone
    cfg.model.head.in_channels = 32
    cfg.optim_wrapper.paramwise_cfg.num_layers = DEPTH
    if optim_override:
        cfg.optim_wrapper.pop('paramwise_cfg')
        cfg.optim_wrapper.update(optim_override)
    return cfg


def _first_step(cfg: Config):
    """Build the model and the optim wrapper of ``cfg``, run the check hook as a run does before training, take one
    step; return the model, the wrapper and the warnings."""
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        LayerDecayCheckHook().before_train(SimpleNamespace(model=model, optim_wrapper=wrapper))
        wrapper.update_params(sum(p.sum() for p in model.parameters() if p.requires_grad))
    return model, wrapper, [w for w in caught if issubclass(w.category, LayerDecayWarning)]


def _lr_scale(model, wrapper, name: str) -> float:
    param = dict(model.named_parameters())[name]
    return next(g['lr_scale'] for g in wrapper.optimizer.param_groups if any(p is param for p in g['params']))


def test_mmpose_constructor_on_this_vit_warns_and_names_the_fix():
    model, wrapper, caught = _first_step(_mmpose_config(SMALL_VIT))
    # the problem is real: mmpose's rule sees no block, all get the head's scale
    assert _lr_scale(model, wrapper, 'backbone.blocks.0.attn.qkv.weight') == 1.0
    assert _lr_scale(model, wrapper, f'backbone.blocks.{DEPTH - 1}.attn.qkv.weight') == 1.0
    assert _lr_scale(model, wrapper, 'backbone.patch_embed.proj.weight') == pytest.approx(RATE**(DEPTH + 1))
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "constructor='ViTPoseLayerDecayOptimWrapperConstructor'" in message and f'num_layers={DEPTH}' in message
    assert 'backbone.layers.N' in message and 'backbone.blocks.N' in message
    # once per run, by the hook: nothing watches the optimizer's steps
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter('always')
        wrapper.update_params(sum(p.sum() for p in model.parameters()))
    assert not [w for w in again if issubclass(w.category, LayerDecayWarning)]


def test_the_package_runner_checks_every_run(tmp_path):
    """ViTPoseRunner registers the check hook itself (once, also when the config lists it)."""
    cfg = _mmpose_config(SMALL_VIT)
    for custom_hooks in (None, [dict(type='LayerDecayCheckHook')]):
        runner = ViTPoseRunner(model=cfg.model, work_dir=str(tmp_path), default_scope='mmpose',
                               custom_hooks=custom_hooks)
        assert [type(h) for h in runner.hooks].count(LayerDecayCheckHook) == 1


def test_this_constructor_in_mmpose_config_decays_every_block_without_warning():
    model, wrapper, caught = _first_step(_mmpose_config(SMALL_VIT, OURS))
    assert not caught
    for i in range(DEPTH):
        assert _lr_scale(model, wrapper, f'backbone.blocks.{i}.mlp.fc1.weight') == pytest.approx(RATE**(DEPTH - i))
    assert _lr_scale(model, wrapper, 'backbone.pos_embed') == pytest.approx(RATE**(DEPTH + 1))
    assert _lr_scale(model, wrapper, 'head.final_layer.weight') == 1.0


def test_mmpose_config_as_shipped_decays_mmpretrain_blocks_without_warning():
    vit = dict(type='mmpretrain.VisionTransformer', arch=dict(embed_dims=32, num_layers=DEPTH, num_heads=2,
                                                              feedforward_channels=64),
               img_size=(64, 48), patch_size=16, qkv_bias=True, with_cls_token=False, out_type='featmap',
               patch_cfg=dict(padding=2))
    model, wrapper, caught = _first_step(_mmpose_config(vit))
    assert not caught
    assert _lr_scale(model, wrapper, 'backbone.layers.0.ffn.layers.0.0.weight') == pytest.approx(RATE**DEPTH)


def test_no_decay_asked_no_warning():
    _, _, caught = _first_step(_mmpose_config(SMALL_VIT, dict(constructor='DefaultOptimWrapperConstructor')))
    assert not caught
    _, _, caught = _first_step(_mmpose_config(SMALL_VIT, dict(OURS, paramwise_cfg=dict(num_layers=DEPTH,
                                                                                     layer_decay_rate=1.0))))
    assert not caught


def test_problem_text_is_none_for_an_unrelated_optimizer():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    assert layer_decay_problem(opt, torch.nn.Linear(2, 2)) is None


MMPRETRAIN_VIT = dict(type='mmpretrain.VisionTransformer', arch=dict(embed_dims=32, num_layers=DEPTH, num_heads=2,
                                                                     feedforward_channels=64),
                      img_size=(64, 48), patch_size=16, qkv_bias=True, with_cls_token=False, out_type='featmap',
                      patch_cfg=dict(padding=2), final_norm=True)


def test_this_constructor_on_mmpretrain_vit_gives_mmposes_groups_parameter_by_parameter():
    """mmpose's own ViTPose config (mmpretrain's VisionTransformer, blocks `layers.N`): this constructor's lr and
    weight decay of every parameter equal mmpose 1.3.2's LayerDecayOptimWrapperConstructor's."""
    theirs_model, theirs, _ = _first_step(_mmpose_config(MMPRETRAIN_VIT))
    ours_model, ours, _ = _first_step(_mmpose_config(MMPRETRAIN_VIT, OURS))

    def per_param(model, wrapper):
        group = {id(p): g for g in wrapper.optimizer.param_groups for p in g['params']}
        return {n: (group[id(p)]['lr'], group[id(p)]['weight_decay']) for n, p in model.named_parameters()}

    want, got = per_param(theirs_model, theirs), per_param(ours_model, ours)
    assert sorted(want) == sorted(got) and len(want) > 30
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-12), name
    lr = theirs.optimizer.defaults['lr']
    # the numbers: the last block one decay step below the head, the embeddings DEPTH + 1; pos_embed not decayed
    assert got['backbone.layers.2.ffn.layers.1.weight'][0] == pytest.approx(lr * RATE)
    assert got['backbone.pos_embed'] == pytest.approx((lr * RATE**(DEPTH + 1), 0.0))
    assert got['head.final_layer.weight'][0] == pytest.approx(lr)


def test_num_layers_of_mmpretrain_vit_is_its_block_count():
    cfg = _mmpose_config(MMPRETRAIN_VIT, OURS)  # num_layers=DEPTH: accepted (it said DEPTH + 1 layers before)
    _first_step(cfg)
    cfg.optim_wrapper.paramwise_cfg.num_layers = DEPTH + 1
    with pytest.raises(ValueError, match=f'has {DEPTH} layers'):
        _first_step(cfg)
