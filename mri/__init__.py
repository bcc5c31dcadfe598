"""Domain library of the study: k-space physics, data, shifts, models and metrics.

Plain PyTorch and NumPy; nothing here imports Ray.
"""
