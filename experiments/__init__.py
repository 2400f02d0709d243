"""Experiment orchestration around the ``ebmm`` library: studies, not library code.

Not part of the installed package (``pip install`` ships ``src/ebmm`` only, and ``ebmm`` never
imports this folder). Run from the repository root, where ``experiments`` is importable:

    python -m experiments.writing --checkpoint checkpoints/binary ...   # EBMM's write against plain gradient descent
    python -m experiments.efficiency RUN_DIR... --patterns 48 --target 1.0   # meta-updates to a target
    python -m experiments.tuning summarise|pick|best ...                 # the baselines' sweeps and choices
    python -m experiments.report results/fast_writing.json               # the studies' Markdown tables

The shell scripts beside them (``bench_writing.sh``, ``training_efficiency.sh``,
``tune_baselines.sh``) made the committed results; tests are in ``tests/experiments/``.
"""
