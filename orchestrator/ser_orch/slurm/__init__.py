"""Slurm submission: profiles, one submitit job per experiment, a Ray cluster across its nodes.

Importing this package imports neither Ray nor submitit; the modules that need them do.
"""
