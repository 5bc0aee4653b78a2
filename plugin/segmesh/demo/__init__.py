"""A synthetic demo study: CT phantom with organs, their DICOM SEG and their RT-STRUCT."""

from .phantom import DemoStudy, make_demo_study

__all__ = ["DemoStudy", "make_demo_study"]
