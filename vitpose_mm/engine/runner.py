"""mmengine's Runner with strict, clearly reported checkpoint loading."""
import os
import os.path as osp
from typing import Sequence, Tuple

import torch
from mmengine.dist import is_main_process
from mmengine.runner import Runner
from mmengine.registry import RUNNERS

from .dist import cpu_ddp_wrapper_cfg


# registered in mmengine's root registry: runners are built by `RUNNERS.build(cfg)` there, outside any scope
@RUNNERS.register_module()
class ViTPoseRunner(Runner):
    """``mmengine.runner.Runner`` whose ``load_from``/``--resume``/``--checkpoint`` loads are strict.

    mmengine's default (``strict=False``) only logs a warning for missing, surplus or mis-shaped keys and goes on
    with a half-loaded model. Here any such mismatch stops the run with an error naming the file and the keys.
    Initialising a backbone from pre-training weights is the job of ``init_cfg`` (see ``ViT``), not of ``load_from``.
    """

    def wrap_model(self, model_wrapper_cfg, model):
        if self.distributed and model_wrapper_cfg is None and not torch.cuda.is_available():
            model_wrapper_cfg = cpu_ddp_wrapper_cfg(self.cfg)  # gloo on CPU: see vitpose_mm/engine/dist.py
        return super().wrap_model(model_wrapper_cfg, model)

    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs):
        """mmengine's save, made atomic for local folders: written to ``FILENAME.part``, then renamed.

        A process killed while writing leaves at most a ``.part`` file, which neither ``--resume`` (it reads the
        ``last_checkpoint`` file, written after the save) nor a user mistakes for a checkpoint.
        """
        if '://' in str(out_dir) or not is_main_process():  # remote storage; other ranks write nothing (mmengine)
            return super().save_checkpoint(out_dir, filename, *args, **kwargs)
        part = f'{filename}.part'
        super().save_checkpoint(out_dir, part, *args, **kwargs)
        os.replace(osp.join(out_dir, part), osp.join(out_dir, filename))

    def load_checkpoint(self,
                        filename: str,
                        map_location: str = 'cpu',
                        strict: bool = True,
                        revise_keys: Sequence[Tuple[str, str]] = ((r'^module.', ''), )):
        if '://' not in filename and not osp.isfile(filename):
            raise FileNotFoundError(f'checkpoint not found: {filename}')
        try:
            return super().load_checkpoint(filename, map_location, strict, list(revise_keys))
        except RuntimeError as e:
            raise RuntimeError(f'cannot load checkpoint {filename} into {type(self.model).__name__}: {e}') from e
