"""The degenerate-box rule of vitpose_mm/apis/boxes.py on hand-computed boxes at the image borders.

The convention: boxes are x1, y1, x2, y2 in pixels; a box is kept (unchanged, never clipped) when its part inside
the image ``[0, W] x [0, H]`` is at least ``min_size`` pixels wide and high; dropped boxes are counted, and those
with x2 < x1 or y2 < y1 also as inverted.
"""
import numpy as np

from vitpose_mm.apis import drop_degenerate_boxes

# every box on a 40 x 30 image (W x H); the part inside the image, worked out by hand, in the comments
KEPT = [[0, 0, 1, 1, 0.9],  # the top-left pixel: 1 x 1, exactly the default min_size
        [-5, -3, 1, 1, 0.8],  # mostly outside: measured by its inside part, [0, 1] x [0, 1]
        [39, 29, 45, 35, 0.7],  # the bottom-right pixel, overhanging: [39, 40] x [29, 30]
        [-10, 4, 50, 6, 0.6]]  # wider than the image: [0, 40] x [4, 6]
DROPPED = [[10, 5, 20, 5.5, 0.9],  # 0.5 px high, away from the top border
           [5, 12, 25, 12, 0.9],  # zero height: degenerate, not inverted
           [40, 0, 50, 10, 0.9],  # starts at the right border: nothing inside
           [20, 10, 10, 20, 0.9],  # inverted in x only
           [10, 20, 20, 10, 0.9]]  # inverted in y only


def test_boxes_are_measured_by_their_part_inside_the_image():
    """Kept boxes come back unchanged (not clipped); 5 dropped, 2 of them inverted (one axis each is enough)."""
    img_shape = (30, 40, 3)  # an image array's shape (H, W, C) works as (H, W)
    kept, dropped, inverted = drop_degenerate_boxes(np.array(KEPT + DROPPED, np.float32), img_shape)
    np.testing.assert_array_equal(kept, np.array(KEPT, np.float32))
    assert (dropped, inverted) == (5, 2)


def test_min_size_is_inclusive_and_defaults_to_one_pixel():
    """A box exactly min_size wide and high (inside the image) is kept; a larger min_size drops it."""
    for size in (1.0, 2.5):
        box = [[3, 4, 3 + size, 4 + size, 1.0]]
        assert len(drop_degenerate_boxes(box, (30, 40), min_size=size)[0]) == 1
        assert drop_degenerate_boxes(box, (30, 40), min_size=size + 0.01)[1:] == (1, 0)
    at_corner = [[38, 28, 41, 31, 1.0]]  # 2 x 2 inside the image, 3 x 3 in all
    assert len(drop_degenerate_boxes(at_corner, (30, 40), min_size=2)[0]) == 1
    assert len(drop_degenerate_boxes(at_corner, (30, 40), min_size=2.5)[0]) == 0
    assert len(drop_degenerate_boxes(KEPT[:1], (30, 40))[0]) == 1  # the default: 1 px


def test_inside_parts_start_at_the_top_and_left_borders():
    """The inside part of a box crossing the left or top border starts at 0; boxes with a value that is not finite
    are dropped (not inverted)."""
    top_left = [[-4, 10, 1, 20, 1.0], [10, -4, 20, 1, 1.0]]  # 1 px of each inside, at x = 0 and y = 0
    kept, dropped, _ = drop_degenerate_boxes(top_left, (30, 40))
    assert len(kept) == 2 and dropped == 0
    not_finite = [[0, 0, np.inf, 10, 1.0], [0, 0, 10, 10, np.nan]]
    assert drop_degenerate_boxes(not_finite, (30, 40))[1:] == (2, 0)
