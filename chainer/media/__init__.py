"""Media: the ffmpeg seam (ffmpeg.py), probing, stitching, audio and seam analysis."""
