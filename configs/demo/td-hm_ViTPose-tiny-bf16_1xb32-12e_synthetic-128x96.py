# The demo (ViT 192-d, 6 blocks, batch 32, AdamW lr 1e-3: all in the _base_ below) trained in bfloat16 mixed precision
# (autocast; fp32 master weights). AutocastOptimWrapper runs on CPUs (mmengine's AmpOptimWrapper needs CUDA) and on
# CUDA; see docs/speed.md.
_base_ = ['./td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py']

optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16')
