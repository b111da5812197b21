# References: the key renames of HF transformers' convert_vitpose_to_hf.py and of the official ViTPose
# tools/model_split.py (read for behaviour); key names read off ViTPose 0.x, mmpretrain 1.2.0 VisionTransformer,
# mmpose 1.3.2 HeatmapHead and transformers' VitPoseForPoseEstimation.
"""The public ViTPose checkpoint layouts, each as one declarative table of key renames.

Every table maps vitpose_mm names (the official ViTPose names, ``backbone.blocks.{i}...``, with the head under
``head.``) to one layout's names, and works in both directions (:func:`to_vitpose_mm`, :func:`from_vitpose_mm`).
Templates use placeholders: ``{i}`` block, ``{j}`` expert, ``{k}`` extra head (digits), ``{p}`` a parameter or
buffer name (``weight``, ``running_mean`` ...), ``{rest}`` any dotted tail. A rule whose right side is a tuple fuses
those source tensors (in that order, along dim 0) into the one vitpose_mm tensor: HF's separate q/k/v Linears are
ViTPose's fused ``qkv``. ``Drop`` rules name keys that have no place in vitpose_mm, with the reason. A source key that
no rule matches is an error, never silently ignored.

Two names exist only between conversion steps: ``backbone.blocks.{i}.mlp.experts.{j}.*`` (ViTPose+ experts, also a
real ViT name when ``part_features > 0``) and ``associate_heads.{k}.*`` (the extra ViTPose+ heads); choosing a dataset
(:mod:`vitpose_mm.checkpoints.conversion`) folds them into a plain single-dataset model.
"""
import functools
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from vitpose_mm.datasets.facts import DATASETS  # noqa: F401  (ViTPose+ expert order; re-exported)

RELEASED_GRID = (16, 12)  # every released ViTPose checkpoint: 256x192 input, 16x16 patches
_PLACEHOLDERS = {'i': r'\d+', 'j': r'\d+', 'k': r'\d+', 'p': r'[A-Za-z_]+', 'rest': r'.+'}
_FIELD = re.compile(r'\{(\w+)\}')


@functools.lru_cache(maxsize=None)
def _compile(template: str) -> 're.Pattern[str]':
    parts, pos = [], 0
    for m in _FIELD.finditer(template):
        parts.append(re.escape(template[pos:m.start()]))
        parts.append(f'(?P<{m.group(1)}>{_PLACEHOLDERS[m.group(1)]})')
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile(''.join(parts) + r'\Z')


def add_zero_cls_row(pos_embed: torch.Tensor) -> torch.Tensor:
    """mmpose 1.x keeps patch rows only and adds nothing for the class row; ViTPose adds row 0 to every patch."""
    return torch.cat([pos_embed.new_zeros(1, 1, pos_embed.shape[-1]), pos_embed], dim=1)


@dataclass(frozen=True)
class Rename:
    """``ours`` (vitpose_mm name template) <-> ``theirs`` (one template, or a tuple of templates fused on our side).

    ``to_ours`` optionally transforms the tensor on the way in (named, so the table says what happens).
    """
    ours: str
    theirs: Union[str, Tuple[str, ...]]
    to_ours: Optional[Callable[[torch.Tensor], torch.Tensor]] = None


@dataclass(frozen=True)
class Drop:
    """Source keys with no place in vitpose_mm, and why."""
    theirs: str
    reason: str


Rule = Union[Rename, Drop]


@dataclass(frozen=True)
class Layout:
    """A checkpoint layout: a name, what a reader should know, the keys that identify it, and its rename table."""
    name: str
    description: str
    signature: Tuple[str, ...]  # templates that must each match at least one key
    rules: Tuple[Rule, ...]
    forbidden: Tuple[str, ...] = ()  # templates that must match no key

    def matches(self, keys: Sequence[str]) -> List[str]:
        """The reasons this layout does not fit ``keys`` (empty when it fits)."""
        problems = [f'no key like {t!r}' for t in self.signature if not any(_compile(t).match(k) for k in keys)]
        for t in self.forbidden:
            hit = next((k for k in keys if _compile(t).match(k)), None)
            if hit is not None:
                problems.append(f'has {hit!r}, which this layout never has')
        return problems


# ---- the tables ------------------------------------------------------------------------------------------------
_CLS_TOKEN = 'unused: ViTPose has no class token in its sequence (the class position row stays in pos_embed)'

# The official ViTPose 0.x names are vitpose_mm's own; only the head prefix differs.
OFFICIAL = Layout(
    name='official',
    description='official ViTPose / ViTPose+ (mmpose 0.x): backbone.blocks.{i}..., keypoint_head..., '
    'ViTPose+: mlp.experts.{j}, associate_keypoint_heads.{k}',
    signature=('backbone.blocks.{i}.norm1.weight', 'keypoint_head.{rest}'),
    rules=(
        Drop('backbone.cls_token', _CLS_TOKEN),
        Rename('backbone.{rest}', 'backbone.{rest}'),
        Rename('head.{rest}', 'keypoint_head.{rest}'),
        Rename('associate_heads.{k}.{rest}', 'associate_keypoint_heads.{k}.{rest}'),
    ))

VITPOSE_MM = Layout(
    name='vitpose_mm',
    description='vitpose_mm (this package; official backbone names, head under head.)',
    signature=('backbone.blocks.{i}.norm1.weight', 'head.{rest}'),
    forbidden=('keypoint_head.{rest}', ),
    rules=(
        Drop('backbone.cls_token', _CLS_TOKEN),
        Drop('data_preprocessor.{p}', 'constant of the data preprocessor (mean/std), set by the config'),
        Rename('backbone.{rest}', 'backbone.{rest}'),
        Rename('head.{rest}', 'head.{rest}'),
    ))

# mmpretrain VisionTransformer names of one ViT, without a prefix (shared with MAE checkpoints in mmpretrain names).
MMPRETRAIN_VIT: Tuple[Rename, ...] = (
    Rename('patch_embed.proj.{p}', 'patch_embed.projection.{p}'),
    Rename('blocks.{i}.norm1.{p}', 'layers.{i}.ln1.{p}'),
    Rename('blocks.{i}.attn.qkv.{p}', 'layers.{i}.attn.qkv.{p}'),
    Rename('blocks.{i}.attn.proj.{p}', 'layers.{i}.attn.proj.{p}'),
    Rename('blocks.{i}.norm2.{p}', 'layers.{i}.ln2.{p}'),
    Rename('blocks.{i}.mlp.fc1.{p}', 'layers.{i}.ffn.layers.0.0.{p}'),
    Rename('blocks.{i}.mlp.fc2.{p}', 'layers.{i}.ffn.layers.1.{p}'),
)


def prefixed(prefix: str, rules: Sequence[Rename]) -> Tuple[Rename, ...]:
    """The same renames under a module prefix on both sides."""
    return tuple(Rename(prefix + r.ours, prefix + r.theirs, r.to_ours) for r in rules)


MMPOSE = Layout(
    name='mmpose',
    description='mmpose 1.x ViTPose (mmpretrain VisionTransformer + HeatmapHead): backbone.layers.{i}.ln1, '
    'backbone.ln1, head...',
    signature=('backbone.layers.{i}.ln1.weight', 'head.{rest}'),
    rules=(
        Drop('data_preprocessor.{p}', 'constant of the data preprocessor (mean/std), set by the config'),
        # mmpose 1.x builds VisionTransformer(with_cls_token=False): patch rows only, no class row is added.
        Rename('backbone.pos_embed', 'backbone.pos_embed', to_ours=add_zero_cls_row),
        *prefixed('backbone.', MMPRETRAIN_VIT),
        Rename('backbone.last_norm.{p}', 'backbone.ln1.{p}'),  # VisionTransformer(final_norm=True)
        Rename('head.{rest}', 'head.{rest}'),  # HeatmapHead names are TopdownHeatmapSimpleHead's
    ))

_HF_LAYER = 'backbone.encoder.layer.{i}.'
HF = Layout(
    name='hf',
    description='HF transformers VitPoseForPoseEstimation (save_pretrained: config.json + model.safetensors)',
    signature=(_HF_LAYER + 'layernorm_before.weight', 'head.{rest}'),
    rules=(
        Rename('backbone.patch_embed.proj.{p}', 'backbone.embeddings.patch_embeddings.projection.{p}'),
        Rename('backbone.pos_embed', 'backbone.embeddings.position_embeddings'),  # also adds row 0 to every patch
        Rename('backbone.blocks.{i}.norm1.{p}', _HF_LAYER + 'layernorm_before.{p}'),
        Rename('backbone.blocks.{i}.attn.qkv.{p}', tuple(_HF_LAYER + f'attention.attention.{n}.{{p}}'
                                                         for n in ('query', 'key', 'value'))),
        Rename('backbone.blocks.{i}.attn.proj.{p}', _HF_LAYER + 'attention.output.dense.{p}'),
        Rename('backbone.blocks.{i}.norm2.{p}', _HF_LAYER + 'layernorm_after.{p}'),
        Rename('backbone.blocks.{i}.mlp.fc1.{p}', _HF_LAYER + 'mlp.fc1.{p}'),
        Rename('backbone.blocks.{i}.mlp.fc2.{p}', _HF_LAYER + 'mlp.fc2.{p}'),
        Rename('backbone.blocks.{i}.mlp.experts.{j}.{p}', _HF_LAYER + 'mlp.experts.{j}.{p}'),
        Rename('backbone.last_norm.{p}', 'backbone.layernorm.{p}'),
        # classic decoder: 2 x [ConvTranspose2d, BatchNorm2d, ReLU] then a 1x1 conv; simple decoder: the conv only
        Rename('head.deconv_layers.0.weight', 'head.deconv1.weight'),
        Rename('head.deconv_layers.1.{p}', 'head.batchnorm1.{p}'),
        Rename('head.deconv_layers.3.weight', 'head.deconv2.weight'),
        Rename('head.deconv_layers.4.{p}', 'head.batchnorm2.{p}'),
        Rename('head.final_layer.{p}', 'head.conv.{p}'),
    ))

# Pre-training weights (no pose head): converted for `init_cfg` by vitpose_mm.checkpoints.backbone.
MAE = Layout(
    name='mae',
    description='ViT pre-training weights, e.g. MAE (MAE/timm names blocks.{i}... or mmpretrain names '
    'layers.{i}..., 224 input, class token), without a pose head',
    signature=(),
    forbidden=('head.deconv_layers.{rest}', 'head.final_layer.{rest}', 'keypoint_head.{rest}'),
    rules=())

# mmpretrain-named pre-training weights -> ViT names; other keys (cls_token, decoder ...) pass through for
# vitpose_mm.checkpoints.backbone to keep or drop by name. `ln1` is the pre-training encoder's final norm.
MMPRETRAIN_PRETRAIN = Layout(
    name='mmpretrain-pretrain', description='mmpretrain VisionTransformer pre-training weights (no prefix)',
    signature=('layers.{i}.ln1.weight', ),
    rules=(*MMPRETRAIN_VIT, Rename('norm.{p}', 'ln1.{p}'), Rename('{rest}', '{rest}')))

LAYOUTS: Dict[str, Layout] = {x.name: x for x in (OFFICIAL, VITPOSE_MM, MMPOSE, HF, MAE)}
_MAE_BLOCKS = ('blocks.{i}.norm1.weight', 'layers.{i}.ln1.weight')


def detect_layout(keys: Sequence[str]) -> str:
    """The one layout whose signature ``keys`` carry; otherwise a ValueError that says what each layout lacked."""
    keys = list(keys)
    fits = [name for name, lay in LAYOUTS.items() if lay.signature and not lay.matches(keys)]
    if len(fits) == 1:
        return fits[0]
    bare = [k.split('.', 1)[1] if k.startswith(('backbone.', 'module.', 'encoder.')) else k for k in keys]
    if not fits and not MAE.matches(keys) and any(_compile(t).match(k) for t in _MAE_BLOCKS for k in bare):
        return 'mae'
    if fits:
        raise ValueError(f'checkpoint matches several layouts {fits}; pass the layout explicitly')
    report = '\n'.join(f'  {name}: ' + '; '.join(lay.matches(keys) or ['no ViT blocks (blocks.N / layers.N)'])
                       for name, lay in LAYOUTS.items())
    raise ValueError('not a ViTPose checkpoint in any known layout. What each layout needs and did not find:\n'
                     f'{report}\n  first keys of the checkpoint: {sorted(keys)[:8]}')


# ---- applying a table ------------------------------------------------------------------------------------------
@dataclass
class Renamed:
    """Result of :func:`to_vitpose_mm`: tensors in vitpose_mm names, where each came from, what was dropped."""
    state_dict: Dict[str, torch.Tensor] = field(default_factory=dict)
    origin: Dict[str, str] = field(default_factory=dict)  # vitpose_mm key -> source key(s)
    dropped: Dict[str, str] = field(default_factory=dict)  # source key -> reason
    notes: List[str] = field(default_factory=list)  # tensors changed on the way, and why


def to_vitpose_mm(sd: Dict[str, torch.Tensor], layout: Layout) -> Renamed:
    """Rename ``sd`` from ``layout`` to vitpose_mm names; the first matching rule wins for every key.

    Raises ``KeyError`` naming every source key that no rule matches, every fused tensor with a missing part, and
    any two source keys that would land on the same name.
    """
    out = Renamed()
    parts: Dict[str, Dict[int, Tuple[str, torch.Tensor]]] = {}
    unmatched, clashes = [], []
    for key, value in sd.items():
        for rule in layout.rules:
            templates = (rule.theirs, ) if isinstance(rule, Drop) or isinstance(rule.theirs, str) else rule.theirs
            hit = next(((n, m) for n, t in enumerate(templates) for m in [_compile(t).match(key)] if m), None)
            if hit is None:
                continue
            if isinstance(rule, Drop):
                out.dropped[key] = rule.reason
                break
            index, m = hit
            ours = rule.ours.format(**m.groupdict())
            if isinstance(rule.theirs, tuple):
                parts.setdefault(ours, {})[index] = (key, value)
                break
            if ours in out.state_dict:
                clashes.append(f'{out.origin[ours]} and {key} -> {ours}')
            out.state_dict[ours] = rule.to_ours(value) if rule.to_ours else value
            out.origin[ours] = key
            if rule.to_ours:
                out.notes.append(f'{key}: {rule.to_ours.__name__}: {rule.to_ours.__doc__}')
            break
        else:
            unmatched.append(key)
    for ours, got in parts.items():
        rule = next(r for r in layout.rules if isinstance(r, Rename) and _compile(r.ours).match(ours))
        if len(got) != len(rule.theirs):
            have = [got[n][0] for n in sorted(got)]
            unmatched.append(f'{have} (the other parts of {ours} are missing)')
            continue
        out.state_dict[ours] = torch.cat([got[n][1] for n in range(len(got))], dim=0)
        out.origin[ours] = ' + '.join(got[n][0] for n in range(len(got)))
    if unmatched or clashes:
        raise KeyError(f'{layout.name} layout: ' + '; '.join(
            ([f'{len(unmatched)} keys have no place in vitpose_mm: {_few(unmatched)}'] if unmatched else []) +
            ([f'keys collide: {_few(clashes)}'] if clashes else [])))
    return out


def from_vitpose_mm(sd: Dict[str, torch.Tensor], layout: Layout) -> Dict[str, torch.Tensor]:
    """Rename vitpose_mm tensors to ``layout``'s names (fused tensors are split); unknown keys raise KeyError."""
    out, unmatched = {}, []
    for key, value in sd.items():
        for rule in layout.rules:
            m = _compile(rule.ours).match(key) if isinstance(rule, Rename) else None
            if m is None:
                continue
            if rule.to_ours is not None:
                raise ValueError(f'{layout.name} layout: {key} was changed on the way in ({rule.to_ours.__name__}) '
                                 'and has no way back')
            if isinstance(rule.theirs, tuple):
                for template, chunk in zip(rule.theirs, value.chunk(len(rule.theirs), dim=0)):
                    out[template.format(**m.groupdict())] = chunk.clone()
            else:
                out[rule.theirs.format(**m.groupdict())] = value
            break
        else:
            unmatched.append(key)
    if unmatched:
        raise KeyError(f'{len(unmatched)} vitpose_mm keys have no name in the {layout.name} layout: '
                       f'{_few(unmatched)}')
    return out


def _few(items: Sequence[str], n: int = 8) -> str:
    items = list(items)
    return ', '.join(map(str, items[:n])) + (f', ... ({len(items) - n} more)' if len(items) > n else '')
