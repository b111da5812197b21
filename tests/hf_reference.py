"""Reference outputs of HF transformers' VitPoseForPoseEstimation for tests/checkpoints/test_convert_hf.py.

Runs in .venv-hf (made by tools/setup_hf_env.sh; transformers cannot live beside mmpretrain 1.2.0), never imported by
the main test environment:

    .venv-hf/bin/python tests/hf_reference.py make OUT_DIR
        random-weight models, one folder per case (config.json + model.safetensors) with reference.npz:
        the input, the dataset index and HF's heatmaps
    .venv-hf/bin/python tests/hf_reference.py fixture tests/fixtures/hf_reference.npz
        the small committed fixture that tests/checkpoints/test_hf_fixture.py reads in every `make test` (no .venv-hf needed
        there): weights and inputs come from tests/random_weights.formula_tensor (a function of the key name and
        shape, no RNG), so only HF's key names, shapes, config and heatmaps are stored
    .venv-hf/bin/python tests/hf_reference.py run JOBS.json
        jobs written by the test: {"heatmaps": [[FOLDER, INPUT_NPZ, OUT_NPZ], ...]} runs a folder vitpose_mm wrote
        (strict: missing/unexpected/mismatched keys are an error); {"decode": [[IN_NPZ, OUT_NPZ], ...]} decodes
        heatmaps with HF's own post-processing (VitPoseImageProcessor.keypoints_from_heatmaps); {"preprocess":
        [[FOLDER, IMAGE_NPZ, OUT_NPZ], ...]} makes the crops of an image's boxes with the folder's own
        VitPoseImageProcessor.from_pretrained and runs the folder's model on them
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from random_weights import formula_state_dict, formula_tensor, randomize_  # noqa: E402

DIMS = dict(image_size=[256, 192], patch_size=[16, 16], hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
            mlp_ratio=4, qkv_bias=True, out_indices=[2])
# name: (simple decoder, experts, part features, LayerNorm eps, dataset index for the forward)
CASES = {
    'classic': (False, 1, 0, 1e-6, None),
    'simple': (True, 1, 0, 1e-6, None),
    'moe': (False, 6, 16, 1e-6, 2),  # ViTPose+ with 6 experts; the forward picks expert 2 (mpii)
    'hub_eps': (True, 1, 0, 1e-12, None),  # transformers' default eps, which the hub models carry
}


def build(simple: bool, experts: int, part: int, eps: float, **dims):
    from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation
    backbone = VitPoseBackboneConfig(**{**DIMS, **dims}, num_experts=experts, part_features=part or 256,
                                     layer_norm_eps=eps)
    return VitPoseForPoseEstimation(VitPoseConfig(backbone_config=backbone, use_simple_decoder=simple, num_labels=17))


def make(out_dir: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 3, *DIMS['image_size'])
    for seed, (name, (simple, experts, part, eps, dataset)) in enumerate(CASES.items()):
        model = randomize_(build(simple, experts, part, eps), seed=100 + seed).eval()
        folder = os.path.join(out_dir, name)
        model.save_pretrained(folder)
        index = None if dataset is None else torch.full((x.shape[0], ), dataset)
        with torch.no_grad():
            heatmaps = model(x, dataset_index=index).heatmaps
        np.savez(os.path.join(folder, 'reference.npz'), input=x.numpy(), heatmaps=heatmaps.numpy(),
                 dataset_index=-1 if dataset is None else dataset)
    print(f'[hf_reference] wrote {len(CASES)} cases to {out_dir}')


def run(jobs_path: str) -> None:
    from transformers import VitPoseForPoseEstimation, VitPoseImageProcessor
    with open(jobs_path) as f:
        jobs = json.load(f)
    for folder, inp, out in jobs.get('heatmaps', []):
        model, info = VitPoseForPoseEstimation.from_pretrained(folder, output_loading_info=True)
        bad = {k: v for k, v in info.items() if v}
        if bad:
            raise SystemExit(f'{folder}: transformers did not load it cleanly: {bad}')
        data = np.load(inp)
        index = None if int(data['dataset_index']) < 0 else torch.full((data['input'].shape[0], ),
                                                                           int(data['dataset_index']))
        with torch.no_grad():
            heatmaps = model.eval()(torch.from_numpy(data['input']), dataset_index=index).heatmaps
        np.savez(out, heatmaps=heatmaps.numpy())
    processor = VitPoseImageProcessor()
    for inp, out in jobs.get('decode', []):
        heatmaps = np.load(inp)['heatmaps']
        b = heatmaps.shape[0]
        h, w = DIMS['image_size']
        # center and scale (in units of 200 px) of the whole input: keypoints come out in input pixels
        centers, scales = np.tile([[w / 2, h / 2]], (b, 1)), np.tile([[w / 200, h / 200]], (b, 1))
        keypoints, scores = processor.keypoints_from_heatmaps(heatmaps.copy(), centers, scales)
        np.savez(out, keypoints=keypoints, scores=scores)
    for folder, inp, out in jobs.get('preprocess', []):
        # the folder's own processor (preprocessor_config.json) makes the crop of an image's box, its model runs it
        own = VitPoseImageProcessor.from_pretrained(folder)
        data = np.load(inp)
        pixels = own(data['image'], boxes=[data['boxes'].tolist()], return_tensors='pt').pixel_values
        model = VitPoseForPoseEstimation.from_pretrained(folder).eval()
        with torch.no_grad():
            heatmaps = model(pixels).heatmaps
        np.savez(out, pixel_values=pixels.numpy(), heatmaps=heatmaps.numpy(), size=[own.size['height'],
                 own.size['width']], image_mean=own.image_mean, image_std=own.image_std,
                 rescale_factor=own.rescale_factor)
    print(f'[hf_reference] ran {len(jobs.get("heatmaps", []))} models, decoded {len(jobs.get("decode", []))}, '
          f'preprocessed {len(jobs.get("preprocess", []))}')


# The committed fixture: a 64x48 input (4x3 grid, 16x12 heatmaps) keeps it at a few KB; classic decoder (its two
# BatchNorms pin the key table) and ViTPose+ with 6 experts run on two samples routed to experts 2 and 4.
FIXTURE_CASES = {'classic': (False, 1, 0, [0, 0]), 'moe': (False, 6, 16, [2, 4])}


def fixture(out_path: str) -> None:
    import transformers
    arrays = {}
    x = formula_tensor('input', (2, 3, 64, 48), 'pos')
    for name, (simple, experts, part, index) in FIXTURE_CASES.items():
        model = build(simple, experts, part, 1e-6, image_size=[64, 48]).eval()
        sd = model.state_dict()
        shapes = {k: list(v.shape) for k, v in sd.items() if v.is_floating_point()}
        model.load_state_dict({**sd, **formula_state_dict(shapes)}, strict=True)
        with torch.no_grad():
            out = model(x, dataset_index=torch.tensor(index) if experts > 1 else None).heatmaps
        arrays[f'{name}_heatmaps'] = out.numpy()
        arrays[f'{name}_dataset_index'] = np.array(index)
        arrays[f'{name}_shapes'] = np.array(json.dumps(shapes))
        arrays[f'{name}_int_buffers'] = np.array(json.dumps(sorted(k for k, v in sd.items()
                                                                   if not v.is_floating_point())))
        arrays[f'{name}_config'] = np.array(model.config.to_json_string())
    arrays['made_with'] = np.array(f'transformers {transformers.__version__}, torch {torch.__version__}')
    np.savez_compressed(out_path, **arrays)
    print(f'[hf_reference] wrote {out_path}')


if __name__ == '__main__':
    {'make': make, 'run': run, 'fixture': fixture}[sys.argv[1]](*sys.argv[2:])
