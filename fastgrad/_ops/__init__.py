"""Built-in ops. Each op is one small Function subclass: forward (NumPy or kernel),
backward written with differentiable fastgrad ops (so double backward works), and jvp,
side by side. The functions below each class are the public entry points."""
