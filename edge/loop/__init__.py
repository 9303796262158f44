"""The loop: a frame in, per-person events out (sources, detection, embedding, matching, tracking).

It uses nothing from the outputs or the evaluation, which both build on it.
"""
