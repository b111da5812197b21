"""The one error type of the fine-tuning tool: what is wrong, where (file and record) and the fix."""
from typing import Optional


class FinetuneError(ValueError):
    """Bad input to :func:`vitpose_mm.finetune.finetune`; nothing was written.

    Attributes:
        file: the file or folder at fault (annotation file, checkpoint, config, work dir).
        record: the record at fault (``annotation 12 (image 3)``, ``keypoint 'left_knee'``), or None.
        fix: what to do about it.
    """

    def __init__(self, file: str, problem: str, fix: str, record: Optional[str] = None):
        self.file, self.record, self.problem, self.fix = str(file), record, problem, fix
        where = f'{file}: {record}' if record else str(file)
        super().__init__(f'{where}: {problem}\n  fix: {fix}')


__all__ = ['FinetuneError']
