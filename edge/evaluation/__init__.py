"""Offline measurement on labelled photos and pairs: accuracy, calibration of thresholds, plots.

Not used by the loop; `face-edge evaluate`, `face-edge calibrate` and the workstation use it.
"""
