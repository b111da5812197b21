from .backbones import ViT
from .distillers import KnowledgeTokenDistiller
from .heads import TopdownHeatmapSimpleHead
from .necks import DeconvUpsampleNeck
from .pose_estimators import (BatchFlipTopdownPoseEstimator, MultiDatasetBottomupPoseEstimator,
                              MultiDatasetTopdownPoseEstimator)

__all__ = ['ViT', 'TopdownHeatmapSimpleHead', 'DeconvUpsampleNeck', 'KnowledgeTokenDistiller',
           'BatchFlipTopdownPoseEstimator', 'MultiDatasetTopdownPoseEstimator', 'MultiDatasetBottomupPoseEstimator']
