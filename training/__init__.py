"""Train Easel's small built-in model: a synthetic world of coloured shapes, drawn offline.

``python -m training`` rebuilds ``models/easel-tiny`` from nothing;
``python -m training.evaluate`` measures how well a model draws its captions.
"""
