"""Training datasets: segmentations and their images as nnU-Net or HDF5 training cases."""
