"""Image series: their voxels after the modality rescale on one grid (:mod:`.image_volume`),
the referenced images in slice order (:mod:`.image_order`), and the three planes through one
voxel (:mod:`.cross_sections`)."""
