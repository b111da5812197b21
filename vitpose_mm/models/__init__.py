from .backbones import ViT
from .distillers import KnowledgeTokenDistiller
from .heads import TopdownHeatmapSimpleHead
from .pose_estimators import BatchFlipTopdownPoseEstimator, MultiDatasetTopdownPoseEstimator

__all__ = ['ViT', 'TopdownHeatmapSimpleHead', 'KnowledgeTokenDistiller', 'BatchFlipTopdownPoseEstimator',
           'MultiDatasetTopdownPoseEstimator']
