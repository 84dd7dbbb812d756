"""Where a clip frame's new ground is and the crops around it: pure geometry on 0/1 maps."""

from __future__ import annotations

import numpy as np

from impasto.nst import crops


def test_the_crop_around_new_ground_is_whole_steps_inside_the_frame():
    assert crops._span(60, 64, 8, 64, 16) == (48, 64)  # the right edge, widened inwards
    assert crops._span(0, 3, 8, 64, 16) == (0, 16)
    assert crops._span(20, 30, 4, 64, 16) == (9, 41)  # 18 px with context, rounded up to 32, centred
    assert crops._span(10, 20, 0, 36, 32) == (0, 32)  # widened to the least asked, kept inside
    assert crops._span(0, 36, 8, 36, 16) == (0, 36)  # never beyond the frame


def test_new_ground_crops_one_per_region_merged_where_they_overlap():
    new = np.zeros((96, 128), np.uint8)
    new[:, -4:] = 1  # a pan's new edge
    new[40:52, 5:17] = 1  # what an object uncovered, far from it (1.2 % of the frame)
    new[5, 60] = 1  # a speck: left out
    new[80:88, 40:48] = 1  # under 1 % of the frame: left out too (paint_new_ground inpaints it)
    boxes = crops.new_ground_boxes(new)
    assert [(b[0].start, b[0].stop, b[1].start, b[1].stop) for b in sorted(boxes, key=lambda b: b[1].start)] == [
        (30, 62, 0, 64), (0, 96, 112, 128)]  # 8 px of context, in steps of 16; the small one grown to half the width
    new[40:52, 5:17] = 0
    new[80:88, 40:48] = 0
    new[40:52, 98:110] = 1  # near the edge: its crop overlaps the edge's and the two become one
    assert crops.new_ground_boxes(new) == [(slice(0, 96), slice(64, 128))]
    new[:, :100] = 1  # most of the frame is new (a cut): the whole frame
    assert crops.new_ground_boxes(new) == [(slice(0, 96), slice(0, 128))]
    assert crops.new_ground_boxes(np.zeros((96, 128), np.uint8)) == []


def test_new_ground_leaves_out_specks_of_flow_noise():
    reliable = np.ones((48, 64), np.float32)
    reliable[10, 10] = 0  # one pixel the flow could not follow
    reliable[20:30, 40:50] = 0.2  # a region it could not
    new = crops.new_ground(reliable)
    assert new.dtype == np.uint8 and new[10, 10] == 0 and new.sum() == 100 and new[20:30, 40:50].all()
    assert crops.box_shape((slice(0, 36), slice(32, 48))) == (36, 16)
