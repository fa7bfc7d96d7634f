"""The compiled engine: numba kernels that replay the same six steps as ``simulator.engine`` faster.

The Python bar loop in ``simulator.engine.engine`` stays the reference; everything here must equal it
(tests/simulator/kernel). A setup the kernels do not cover raises ``NotCompiled`` and runs on the
reference engine, and the run's notes say which engine ran and why.
"""
