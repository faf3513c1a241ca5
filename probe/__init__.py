"""beamwatch probes: measure HTTP retrievals and push tagged points.

This package imports nothing from `collector` or `dashboard`, so a Lambda
image can hold it and its few dependencies alone.
"""
