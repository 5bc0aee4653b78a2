"""What a route, a job or an automatic run asks for, in one place: "the label map of X"
(:mod:`.labelmaps`), "as a file" (:mod:`.labelmap_files`), "the models of X with options Y,
stored" (:mod:`.models`), "X converted to SEG, LABELMAP or RT-STRUCT, stored"
(:mod:`.conversions`), "the statistics of X" (:mod:`.statistics`), "the image volume X is
drawn on" (:mod:`.volumes`). Each loads what it needs from Orthanc, calls the core, and stores
or returns the result; none parses HTTP.
"""
