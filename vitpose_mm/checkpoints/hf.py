# References: transformers 4.57.6 models/vitpose/{configuration,modeling}_vitpose.py and
# models/vitpose_backbone/{configuration,modeling}_vitpose_backbone.py (read for config fields and defaults).
"""HF transformers ``VitPoseForPoseEstimation`` folders (``config.json`` + ``model.safetensors``), without transformers.

How HF's model relates to ViTPose, as far as conversion cares:

- backbone: the official ViT with separate q/k/v Linears (fused into ``qkv`` here), the class position row added
  to every patch as in the official code, and LayerNorm eps from ``layer_norm_eps``: HF's default is 1e-12, while
  ViTPose (and vitpose_mm) use 1e-6. The hub models were converted without setting it, so they run with 1e-12;
- ViTPose+: ``num_experts > 1`` builds the MoE MLP (``mlp.experts.{j}``, chosen by ``dataset_index``); with one
  expert the MLP is plain, so a single-dataset model is written with the expert folded into ``fc2``;
- heads: one only. ``use_simple_decoder`` gives ReLU + bilinear x``scale_factor`` + 3x3 ``conv``; otherwise the
  classic 2 x [ConvTranspose2d(256, k4, s2), BN, ReLU] + 1x1 ``conv``; ``num_labels`` keypoints;
- the feature map is the last entry of ``out_indices``: it must be the last block for the official model.
"""
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch

from .arch import OFFICIAL_LAYER_NORM_EPS, Arch
from .io import atomic_path

# Defaults of transformers' VitPoseBackboneConfig / VitPoseConfig / PretrainedConfig, for fields a config.json omits.
HF_BACKBONE_DEFAULTS = dict(image_size=[256, 192], patch_size=[16, 16], num_channels=3, hidden_size=768,
                            num_hidden_layers=12, num_attention_heads=12, mlp_ratio=4, num_experts=1,
                            part_features=256, hidden_act='gelu', layer_norm_eps=1e-12, qkv_bias=True)
HF_POSE_DEFAULTS = dict(scale_factor=4, use_simple_decoder=True)
HF_WEIGHT_FILES = ('model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin')
# ViTPose's data preprocessor (every official and vitpose_mm config): ImageNet's RGB mean and std, 0-255 pixels.
IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)
CLASSIC_HEAD = dict(deconv_filters=(256, 256), deconv_kernels=(4, 4), final_kernel=1)


def _pair(v) -> Tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1]))


def read_hf_config(path: str) -> dict:
    """``config.json`` of a VitPoseForPoseEstimation, checked for what vitpose_mm can reproduce exactly."""
    with open(path) as f:
        cfg = json.load(f)
    if cfg.get('model_type') != 'vitpose':
        raise ValueError(f'{path}: model_type is {cfg.get("model_type")!r}, expected "vitpose" '
                         '(VitPoseForPoseEstimation)')
    bb = cfg.get('backbone_config')
    if not isinstance(bb, dict) or bb.get('model_type', 'vitpose_backbone') != 'vitpose_backbone':
        raise ValueError(f'{path}: backbone_config must be a vitpose_backbone config, got {bb!r:.80}')
    if bb.get('hidden_act', 'gelu') != 'gelu':
        raise ValueError(f'{path}: hidden_act={bb["hidden_act"]!r}; ViTPose uses "gelu" (exact GELU)')
    return cfg


def hints_from_hf_config(cfg: dict) -> dict:
    """Arguments for :func:`vitpose_mm.checkpoints.arch.infer_arch` that only the config knows."""
    bb = {**HF_BACKBONE_DEFAULTS, **cfg['backbone_config']}
    depth = int(bb['num_hidden_layers'])
    last = (bb.get('out_indices') or [depth])[-1]
    if not bb.get('out_indices') and bb.get('out_features'):
        name = str(bb['out_features'][-1])
        last = 0 if name == 'stem' else int(name[len('stage'):])
    if last != depth and last != -1:
        raise ValueError(f'HF config: the pose head reads block {last} (out_indices {bb.get("out_indices")}); '
                         f'ViTPose reads the last block ({depth})')
    image, patch = _pair(bb['image_size']), _pair(bb['patch_size'])
    simple = bool(cfg.get('use_simple_decoder', HF_POSE_DEFAULTS['use_simple_decoder']))
    return dict(num_heads=int(bb['num_attention_heads']), grid=(image[0] // patch[0], image[1] // patch[1]),
                upsample=int(cfg.get('scale_factor', HF_POSE_DEFAULTS['scale_factor'])) if simple else 0,
                layer_norm_eps=float(bb['layer_norm_eps']))


def read_hf_folder(path: str) -> Tuple[Dict[str, torch.Tensor], dict, str]:
    """(state dict, config, weights file) of a ``save_pretrained`` folder; sharded safetensors are joined."""
    from .io import load_file
    cfg_path = osp.join(path, 'config.json')
    if not osp.isfile(cfg_path):
        raise FileNotFoundError(f'{path} is a folder without config.json: not an HF save_pretrained folder')
    cfg = read_hf_config(cfg_path)
    weights = next((osp.join(path, f) for f in HF_WEIGHT_FILES if osp.isfile(osp.join(path, f))), None)
    if weights is None:
        raise FileNotFoundError(f'{path} has none of {list(HF_WEIGHT_FILES)}')
    if weights.endswith('.index.json'):
        with open(weights) as f:
            shards = sorted(set(json.load(f)['weight_map'].values()))
        sd = {}
        for shard in shards:
            sd.update(load_file(osp.join(path, shard)))
    else:
        sd = load_file(weights)
    return dict(sd), cfg, weights


def hf_config_for(arch: Arch) -> dict:
    """A complete ``config.json`` for ``arch`` (every field written, no reliance on transformers' defaults)."""
    if arch.num_keypoints is None:
        raise ValueError('HF VitPoseForPoseEstimation needs a pose head; this checkpoint has none')
    if arch.num_heads is None:
        raise ValueError(f'the number of attention heads of this {arch.embed_dim}-d, {arch.depth}-block ViT is '
                         'not in its weights: pass the vitpose_mm config it was trained with (--config)')
    if arch.num_conv_layers:
        raise ValueError('HF VitPose decoders have no intermediate conv layers (head.conv_layers)')
    if arch.decoder == 'simple':
        if arch.deconv_filters or arch.final_kernel != 3:
            raise ValueError(f'HF simple decoder is ReLU, upsample, 3x3 conv; this head has deconv '
                             f'{list(arch.deconv_filters)} and a {arch.final_kernel}x{arch.final_kernel} final conv')
    elif (tuple(arch.deconv_filters), tuple(arch.deconv_kernels), arch.final_kernel) != tuple(CLASSIC_HEAD.values()):
        raise ValueError(f'HF classic decoder is deconv [256, 256] with 4x4 kernels and a 1x1 conv; this head has '
                         f'deconv {list(arch.deconv_filters)}, kernels {list(arch.deconv_kernels)}, '
                         f'a {arch.final_kernel}x{arch.final_kernel} final conv')
    if arch.mlp_ratio * arch.embed_dim != int(arch.mlp_ratio * arch.embed_dim):
        raise ValueError(f'mlp_ratio {arch.mlp_ratio} does not give a whole number of MLP channels')
    mlp_ratio = int(arch.mlp_ratio) if float(arch.mlp_ratio).is_integer() else arch.mlp_ratio
    labels = {str(i): f'keypoint_{i}' for i in range(arch.num_keypoints)}
    backbone = dict(
        model_type='vitpose_backbone', image_size=list(arch.img_size), patch_size=list(arch.patch_size),
        num_channels=arch.in_channels, hidden_size=arch.embed_dim, num_hidden_layers=arch.depth,
        num_attention_heads=arch.num_heads, mlp_ratio=mlp_ratio,
        num_experts=arch.num_expert if arch.part_features else 1,
        part_features=arch.part_features if arch.part_features else HF_BACKBONE_DEFAULTS['part_features'],
        hidden_act='gelu', hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.02,
        layer_norm_eps=arch.layer_norm_eps, qkv_bias=arch.qkv_bias, out_indices=[arch.depth],
        out_features=[f'stage{arch.depth}'])
    return dict(architectures=['VitPoseForPoseEstimation'], model_type='vitpose', backbone_config=backbone,
                use_simple_decoder=arch.decoder == 'simple', scale_factor=arch.upsample or 4,
                id2label=labels, label2id={v: int(k) for k, v in labels.items()}, initializer_range=0.02)


def hf_preprocessor_config_for(arch: Arch, mean: Sequence[float] = IMAGENET_MEAN_255,
                               std: Sequence[float] = IMAGENET_STD_255) -> dict:
    """A ``preprocessor_config.json`` for transformers' ``VitPoseImageProcessor``: the model's own crop size and
    normalization, so that ``VitPoseImageProcessor.from_pretrained(folder)`` makes crops the model takes.

    The fields are the arguments of ``VitPoseImageProcessor.__init__`` (transformers 4.57.6
    ``models/vitpose/image_processing_vitpose.py``): ``size`` ``{"height", "width"}`` (its default 256 x 192),
    ``do_rescale`` with ``rescale_factor`` 1/255 (pixels to [0, 1]) and ``image_mean``/``image_std`` on that scale.

    Args:
        arch: the model; its ``img_size`` (height, width) is the crop size.
        mean, std: the model's data preprocessor ``mean``/``std`` (RGB, 0-255 pixel scale; default ImageNet's, which
            every ViTPose config uses).
    """
    return dict(image_processor_type='VitPoseImageProcessor', do_affine_transform=True,
                size=dict(height=int(arch.img_size[0]), width=int(arch.img_size[1])),
                do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
                image_mean=[round(float(m) / 255, 6) for m in mean], image_std=[round(float(v) / 255, 6) for v in std])


def save_hf_folder(folder: str, hf_state_dict: Dict[str, torch.Tensor], config: dict,
                   preprocessor: Optional[dict] = None) -> None:
    """Write ``config.json``, ``model.safetensors`` and (when given) ``preprocessor_config.json`` into ``folder``
    all at once (:func:`.io.atomic_path`: a failure leaves no half-written model)."""
    from safetensors.torch import save_file
    folder = osp.abspath(folder)
    if osp.exists(folder) and (not osp.isdir(folder) or os.listdir(folder)):
        raise FileExistsError(f'{folder} exists and is not an empty folder')
    with atomic_path(folder, folder=True) as tmp:
        tensors = {k: v.detach().contiguous().clone() for k, v in hf_state_dict.items()}
        save_file(tensors, osp.join(tmp, 'model.safetensors'), metadata={'format': 'pt'})
        with open(osp.join(tmp, 'config.json'), 'w') as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write('\n')
        if preprocessor is not None:
            with open(osp.join(tmp, 'preprocessor_config.json'), 'w') as f:
                json.dump(preprocessor, f, indent=2, sort_keys=True)
                f.write('\n')


def layer_norm_eps_note(eps: float) -> Optional[str]:
    if eps == OFFICIAL_LAYER_NORM_EPS:
        return None
    return (f'HF config has layer_norm_eps={eps:g} (transformers\' default, kept by the hub models); ViTPose and '
            f'vitpose_mm use {OFFICIAL_LAYER_NORM_EPS:g}, so outputs differ very slightly from HF '
            '(docs/checkpoints.md gives the measured size)')
