"""Train Easel's small built-in model: a synthetic world of coloured shapes, drawn offline.

``python -m pipeline.train_default`` rebuilds ``models/easel-tiny`` from nothing;
``python -m pipeline.train_default.evaluate`` measures how well a model draws its captions.
"""
