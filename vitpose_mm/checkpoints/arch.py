"""What a converted vitpose_mm state dict describes (dims, grid, decoder), and the config that loads it.

Weights do not store everything: the number of attention heads and the simple decoder's upsampling factor are not
visible in any tensor. They come from a hint (HF ``config.json``, a vitpose_mm config) or, for the four released
sizes, from the official table (S/B 12 heads, L/H 16 heads; simple decoder = bilinear x4).
"""
import re
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import torch

from .layouts import RELEASED_GRID

# (embed_dim, depth) -> (size name in the config file names, attention heads), as released.
STANDARD_SIZES: Dict[Tuple[int, int], Tuple[str, int]] = {
    (384, 12): ('small', 12), (768, 12): ('base', 12), (1024, 24): ('large', 16), (1280, 32): ('huge', 16)}
OFFICIAL_LAYER_NORM_EPS = 1e-6
# What the shipped COCO configs build, to tell which options a converted checkpoint needs on top of them.
SHIPPED = dict(patch_size=(16, 16), grid=(16, 12), mlp_ratio=4.0, qkv_bias=True, num_keypoints=17,
               classic=dict(deconv_filters=(256, 256), deconv_kernels=(4, 4), final_kernel=1, upsample=0),
               simple=dict(deconv_filters=(), deconv_kernels=(), final_kernel=3, upsample=4))


def shipped_config(size: Optional[str], decoder: str) -> str:
    """The shipped COCO config of a released size (``base`` for others) and decoder (``classic``/``simple``)."""
    return f'td-hm_ViTPose-{size or "base"}{"-simple" if decoder == "simple" else ""}_8xb64-210e_coco-256x192.py'


@dataclass
class Arch:
    """The architecture a vitpose_mm state dict (``backbone.*`` ViT + ``head.*``) describes."""
    embed_dim: int
    depth: int
    patch_size: Tuple[int, int]
    grid: Tuple[int, int]
    mlp_ratio: float
    qkv_bias: bool
    num_heads: Optional[int] = None
    in_channels: int = 3
    num_expert: int = 1
    part_features: int = 0
    num_keypoints: Optional[int] = None  # None: backbone only
    deconv_filters: Tuple[int, ...] = ()
    deconv_kernels: Tuple[int, ...] = ()
    num_conv_layers: int = 0
    final_kernel: int = 1
    upsample: int = 0
    layer_norm_eps: float = OFFICIAL_LAYER_NORM_EPS
    assumed: List[str] = field(default_factory=list)  # what was not in the weights and was taken as released

    @property
    def img_size(self) -> Tuple[int, int]:
        return (self.grid[0] * self.patch_size[0], self.grid[1] * self.patch_size[1])

    @property
    def decoder(self) -> str:
        return 'simple' if self.upsample else 'classic'

    @property
    def size_name(self) -> Optional[str]:
        std = STANDARD_SIZES.get((self.embed_dim, self.depth))
        return std[0] if std and std[1] == self.num_heads else None

    def describe(self) -> str:
        size = f'ViT-{self.size_name[0].upper()}' if self.size_name else 'ViT'
        moe = f', {self.num_expert} experts x {self.part_features} part features' if self.part_features else ''
        text = (f'{size} embed {self.embed_dim}, depth {self.depth}, heads {self.num_heads or "?"}, '
                f'patch {self.patch_size[0]}x{self.patch_size[1]}, grid {self.grid[0]}x{self.grid[1]} '
                f'(input {self.img_size[0]}x{self.img_size[1]}){moe}')
        if self.num_keypoints is None:
            return text + ', no pose head'
        head = (f'simple decoder (ReLU, bilinear x{self.upsample}, {self.final_kernel}x{self.final_kernel} conv)'
                if self.decoder == 'simple' else
                f'classic decoder (deconv {list(self.deconv_filters)}, {self.final_kernel}x{self.final_kernel} conv)')
        return f'{text}; {head}, {self.num_keypoints} keypoints'

    def config_name(self) -> str:
        """The shipped config to start from: the same size if released, else the base config of that decoder."""
        return shipped_config(self.size_name, self.decoder)

    def cfg_options(self) -> Dict[str, object]:
        """``--cfg-options`` that turn :meth:`config_name` into this architecture (empty for a released model)."""
        opts: Dict[str, object] = {}
        bb, head = 'model.backbone.', 'model.head.'
        if not self.size_name:
            opts.update({bb + 'embed_dim': self.embed_dim, bb + 'depth': self.depth,
                         'optim_wrapper.paramwise_cfg.num_layers': self.depth})
            if self.num_heads is not None:  # unknown from weights alone: the tool asks for --config
                opts[bb + 'num_heads'] = self.num_heads
            if self.num_keypoints is not None:
                opts[head + 'in_channels'] = self.embed_dim
        if self.patch_size != SHIPPED['patch_size']:
            opts[bb + 'patch_size'] = self.patch_size[0]
        if self.grid != SHIPPED['grid'] or self.patch_size != SHIPPED['patch_size']:
            opts[bb + 'img_size'] = self.img_size
        if self.mlp_ratio != SHIPPED['mlp_ratio']:
            opts[bb + 'mlp_ratio'] = self.mlp_ratio
        if self.qkv_bias != SHIPPED['qkv_bias']:
            opts[bb + 'qkv_bias'] = self.qkv_bias
        if self.part_features:
            opts.update({bb + 'part_features': self.part_features, bb + 'num_expert': self.num_expert})
        if self.num_keypoints is not None:
            if self.num_keypoints != SHIPPED['num_keypoints']:
                opts[head + 'out_channels'] = self.num_keypoints
            ref = SHIPPED[self.decoder]
            if tuple(self.deconv_filters) != ref['deconv_filters'] or \
                    tuple(self.deconv_kernels) != ref['deconv_kernels']:
                opts.update({head + 'num_deconv_layers': len(self.deconv_filters),
                             head + 'num_deconv_filters': tuple(self.deconv_filters),
                             head + 'num_deconv_kernels': tuple(self.deconv_kernels)})
            if self.final_kernel != ref['final_kernel']:
                opts.update({head + 'final_layer.kernel_size': self.final_kernel,
                             head + 'final_layer.padding': self.final_kernel // 2})
            if self.upsample != ref['upsample']:
                opts[head + 'upsample'] = self.upsample
        return opts

    def cfg_options_text(self) -> str:
        def fmt(v):
            if isinstance(v, tuple):
                return '"(' + ','.join(map(str, v)) + (',)"' if len(v) == 1 else ')"')
            return str(v)
        return ' '.join(f'{k}={fmt(v)}' for k, v in self.cfg_options().items())

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(decoder=self.decoder, img_size=self.img_size, config=self.config_name(),
                 cfg_options=self.cfg_options_text())
        return d


def _count(sd: Dict[str, torch.Tensor], pattern: str) -> List[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in sd for m in [rx.match(k)] if m})


def infer_arch(sd: Dict[str, torch.Tensor], num_heads: Optional[int] = None, upsample: Optional[int] = None,
               grid: Optional[Tuple[int, int]] = None,
               layer_norm_eps: float = OFFICIAL_LAYER_NORM_EPS) -> Arch:
    """Read the architecture off a vitpose_mm state dict; the keyword arguments are hints the weights lack.

    ``grid`` defaults to 16x12 for 192 position rows (every released model), the square grid for a square number
    of rows, and otherwise the factorisation closest to ViTPose's 4:3 (h:w) input, marked as assumed: it only
    describes the weights; resampling never relies on it (:func:`vitpose_mm.models.layers.pos_embed.source_grid`).
    """
    from vitpose_mm.models.layers.pos_embed import AmbiguousGridError, source_grid
    try:
        pos, proj = sd['backbone.pos_embed'], sd['backbone.patch_embed.proj.weight']
        fc1 = sd['backbone.blocks.0.mlp.fc1.weight']
    except KeyError as e:
        raise KeyError(f'not a ViT state dict in vitpose_mm names: {e} is missing') from None
    embed_dim, assumed = pos.shape[-1], []
    depth = len(_count(sd, r'backbone\.blocks\.(\d+)\.norm1\.weight$'))
    experts = _count(sd, r'backbone\.blocks\.0\.mlp\.experts\.(\d+)\.weight$')
    if num_heads is None and (embed_dim, depth) in STANDARD_SIZES:
        num_heads = STANDARD_SIZES[(embed_dim, depth)][1]
        assumed.append(f'num_heads={num_heads} (released ViTPose with embed {embed_dim}, depth {depth})')
    if grid is None:
        rows = pos.shape[1] - 1
        try:
            grid = source_grid(rows, default=RELEASED_GRID)[0]
        except AmbiguousGridError:
            grid = min(((h, rows // h) for h in range(1, rows + 1) if rows % h == 0),
                       key=lambda g: abs(g[0] / g[1] - 4 / 3))
            assumed.append(f'grid {grid[0]}x{grid[1]} (the 4:3 factorisation of {rows} rows; --src-grid says '
                           'otherwise)')
    arch = Arch(embed_dim=embed_dim, depth=depth, patch_size=tuple(proj.shape[2:]), grid=tuple(grid),
                mlp_ratio=fc1.shape[0] / embed_dim, qkv_bias='backbone.blocks.0.attn.qkv.bias' in sd,
                num_heads=num_heads, in_channels=proj.shape[1], num_expert=max(len(experts), 1),
                part_features=sd[f'backbone.blocks.0.mlp.experts.{experts[0]}.weight'].shape[0] if experts else 0,
                layer_norm_eps=layer_norm_eps, assumed=assumed)
    if 'head.final_layer.weight' not in sd:
        return arch
    deconvs = _count(sd, r'head\.deconv_layers\.(\d+)\.weight$')
    convt = [i for i in deconvs if sd[f'head.deconv_layers.{i}.weight'].dim() == 4]  # BN weights are 1-D
    final = sd['head.final_layer.weight']
    arch.num_keypoints, arch.final_kernel = final.shape[0], final.shape[-1]
    arch.deconv_filters = tuple(sd[f'head.deconv_layers.{i}.weight'].shape[1] for i in convt)
    arch.deconv_kernels = tuple(sd[f'head.deconv_layers.{i}.weight'].shape[-1] for i in convt)
    arch.num_conv_layers = len(_count(sd, r'head\.conv_layers\.(\d+)\.weight$')) // 2
    if upsample is None:
        # Without deconv layers the heatmaps need upsampling; every released simple model uses bilinear x4.
        upsample = 0 if convt else 4
        if not convt:
            arch.assumed.append('simple decoder upsampling x4 (every released ViTPose-simple)')
    arch.upsample = upsample
    return arch


def arch_of_model(model: torch.nn.Module) -> dict:
    """The few hints a built vitpose_mm pose model gives that its weights do not, and its grid."""
    from .conversion import hints_of_model
    return dict(hints_of_model(model), grid=tuple(getattr(model, 'backbone', model).patch_shape))
