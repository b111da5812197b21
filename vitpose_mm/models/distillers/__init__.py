"""Distillation: knowledge tokens (ViTPose, stage 1 and 2) and heatmap distillation."""
from .knowledge_token import KnowledgeTokenDistiller

__all__ = ['KnowledgeTokenDistiller']
