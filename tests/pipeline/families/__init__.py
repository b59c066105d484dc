"""Tests of the model families: detection, and what each family does its own way."""
