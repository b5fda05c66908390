"""Driving ESPnet encoders block by block: subsampling, the block loop with its taps, frame counts."""
