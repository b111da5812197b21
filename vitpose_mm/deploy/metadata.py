"""The facts an exported model carries in its ONNX ``metadata_props``, so that a runtime decodes without the config.

One entry, key :data:`METADATA_KEY` (``vitpose_mm``), holds a JSON object:

- ``format``: 1; ``input``/``output``: the graph's tensor names; ``precision``: ``fp32`` or ``fp16`` (weights and
  compute; the graph's input and output are float32 in both);
- ``input_size`` [w, h] and ``heatmap_size`` [w, h] in pixels;
- ``data_preprocessor``: mmpose's ``PoseDataPreprocessor`` config (``mean``, ``std`` per channel in 0-255 units,
  ``bgr_to_rgb``): the graph's input is ``(crop[..., ::-1] - mean) / std`` for a BGR crop, as (N, 3, H, W);
- ``codec``: the heatmap decoder config (e.g. ``UDPHeatmap`` with its input and heatmap size, ``sigma``);
- ``test_cfg``: ``flip_test``, ``flip_mode``, ``shift_heatmap``. The flip test is **not** in the graph: a runtime
  runs the mirrored crops too and averages (as mmpose's ``HeatmapHead.predict``);
- ``test_pipeline``: the config's test pipeline (``GetBBoxCenterScale`` padding, ``TopdownAffine`` with UDP);
- ``dataset_meta``: mmpose's ``parse_pose_metainfo`` dict (keypoint names, ``flip_indices``, skeleton, colours,
  sigmas), numpy arrays as lists;
- ``source``: config, checkpoint, ViTPose+ dataset, exporter, torch version.
"""
import json
from typing import Any, Dict

import numpy as np

METADATA_KEY = 'vitpose_mm'
FORMAT = 1
# the parse_pose_metainfo entries that are numpy arrays, with their dtypes (mmpose 1.3.2 datasets/datasets/utils.py)
_ARRAYS = {'keypoint_colors': np.uint8, 'skeleton_link_colors': np.uint8, 'dataset_keypoint_weights': np.float32,
           'sigmas': np.float32}


def _plain(value: Any) -> Any:
    """numpy arrays and scalars, tuples and int-keyed dicts -> JSON values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def dataset_meta_to_json(dataset_meta: dict) -> dict:
    """mmpose's dataset_meta -> a JSON-able dict (arrays as lists, ``keypoint_id2name`` keys as strings)."""
    return _plain(dataset_meta)


def dataset_meta_from_json(data: dict) -> dict:
    """Inverse of :func:`dataset_meta_to_json`: the numpy arrays and integer ids mmpose's code expects."""
    meta = dict(data)
    if 'keypoint_id2name' in meta:
        meta['keypoint_id2name'] = {int(k): v for k, v in meta['keypoint_id2name'].items()}
    for key, dtype in _ARRAYS.items():
        if key in meta:
            meta[key] = np.asarray(meta[key], dtype=dtype)
    for key in ('skeleton_links', 'flip_pairs'):
        if key in meta:
            meta[key] = [tuple(v) for v in meta[key]]
    return meta


def encode(meta: Dict[str, Any]) -> str:
    """The JSON text stored under :data:`METADATA_KEY`."""
    return json.dumps(_plain(meta), sort_keys=True)


def decode(text: str) -> Dict[str, Any]:
    """The metadata as written by :func:`encode`, ``dataset_meta`` back in mmpose's types.

    Raises:
        ValueError: not JSON, or a format this version does not read.
    """
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f'the {METADATA_KEY!r} metadata entry is not JSON: {e}') from e
    if meta.get('format') != FORMAT:
        raise ValueError(f'the {METADATA_KEY!r} metadata has format {meta.get("format")!r}; this version reads '
                         f'format {FORMAT}')
    meta['dataset_meta'] = dataset_meta_from_json(meta['dataset_meta'])
    return meta


def read_metadata(onnx_path: str) -> Dict[str, Any]:
    """The metadata of an exported ``.onnx`` file (without loading its weights).

    Raises:
        FileNotFoundError: no such file. ValueError: not an ONNX model, or one without a :data:`METADATA_KEY` entry
        (not exported by ``tools/export_onnx.py``) or with one in an unknown format.
    """
    import os.path as osp

    import onnx
    if not osp.isfile(onnx_path):
        raise FileNotFoundError(f'ONNX model not found: {onnx_path}')
    try:
        model = onnx.load(onnx_path, load_external_data=False)
    except Exception as e:  # protobuf's DecodeError and friends: the bytes are no ONNX model
        raise ValueError(f'{onnx_path} is not an ONNX model ({type(e).__name__}: {e})') from e
    return metadata_from_props({p.key: p.value for p in model.metadata_props}, onnx_path)


def metadata_from_props(props: Dict[str, str], source: str) -> Dict[str, Any]:
    """The :data:`METADATA_KEY` entry of a model's ``metadata_props`` (as ``onnx`` or onnxruntime's
    ``get_modelmeta().custom_metadata_map`` give them), decoded. ValueError when the entry is missing."""
    if METADATA_KEY not in props:
        raise ValueError(f'{source} has no {METADATA_KEY!r} metadata entry (keys: {sorted(props)}); export it with '
                         'tools/export_onnx.py')
    return decode(props[METADATA_KEY])


__all__ = ['METADATA_KEY', 'FORMAT', 'dataset_meta_to_json', 'dataset_meta_from_json', 'encode', 'decode',
           'read_metadata', 'metadata_from_props']
