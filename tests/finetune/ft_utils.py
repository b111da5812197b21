"""Hand-made COCO keypoint files for the fine-tuning tests."""
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np


def write_coco(folder: str, names: Sequence[str], skeleton: Optional[List[List[int]]] = None, num_images: int = 2,
               per_image: int = 2, name: str = 'ann.json', images: bool = True, seed: int = 0,
               **overrides) -> str:
    """A COCO keypoint file with ``num_images`` grey images of 64x48 and ``per_image`` people each; every keypoint
    labelled (v=2) at a random place. ``overrides`` replace top-level entries. Returns the file's path."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(folder, 'img'), exist_ok=True)
    data = dict(images=[], annotations=[], categories=[dict(id=1, name='thing', keypoints=list(names),
                                                              skeleton=skeleton or [])])
    k = len(names)
    for i in range(num_images):
        file_name = f'{i:03d}.jpg'
        data['images'].append(dict(id=i + 1, file_name=file_name, width=48, height=64))
        if images:
            import cv2
            cv2.imwrite(osp.join(folder, 'img', file_name), np.full((64, 48, 3), 128, np.uint8))
        for j in range(per_image):
            kpts = np.stack([rng.uniform(5, 40, k), rng.uniform(5, 60, k), np.full(k, 2)], 1)
            data['annotations'].append(dict(id=len(data['annotations']) + 1, image_id=i + 1, category_id=1,
                                            bbox=[2., 2., 44., 60.], area=2640., iscrowd=0, num_keypoints=k,
                                            keypoints=[round(float(v), 2) for v in kpts.reshape(-1)]))
    data.update(overrides)
    path = osp.join(folder, name)
    with open(path, 'w') as f:
        json.dump(data, f)
    return path
