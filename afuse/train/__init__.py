"""Training: one loop for every stage (loop.py), its checkpoints, and the MT-A task sampler."""
