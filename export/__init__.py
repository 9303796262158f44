"""Workstation side: turning trained models into checked ONNX files for the device."""
