from .backbones import ViT
from .distillers import KnowledgeTokenDistiller
from .heads import TopdownHeatmapSimpleHead
from .necks import DeconvUpsampleNeck
from .pose_estimators import MultiDatasetBottomupPoseEstimator, MultiDatasetTopdownPoseEstimator

__all__ = ['ViT', 'TopdownHeatmapSimpleHead', 'DeconvUpsampleNeck', 'KnowledgeTokenDistiller',
           'MultiDatasetTopdownPoseEstimator', 'MultiDatasetBottomupPoseEstimator']
