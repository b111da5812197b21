"""Measuring models: training-step memory and FLOPs, inference throughput."""
from .cost import StepCost, inference_throughput, training_step_cost

__all__ = ['StepCost', 'training_step_cost', 'inference_throughput']
