"""Workstation side: training the Siamese embedding network (see the training issue)."""
