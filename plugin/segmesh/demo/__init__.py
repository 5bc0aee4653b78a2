"""A synthetic demo study: CT phantom with organs, their DICOM SEG and their RT-STRUCT; and the
CT slice builder it is made with (tests and benchmarks build their series with it too)."""

from .phantom import DemoStudy, ct_slices, make_demo_study, study_attributes

__all__ = ["DemoStudy", "ct_slices", "make_demo_study", "study_attributes"]
