"""The pure-NumPy kernels, one module per family as csrc/ (gathered by fastgrad/_kernels_np.py)."""
