"""Drawing for the synthetic dataset: textured backgrounds, clutter, occluders and the people's shapes.

Images are uint8 BGR (OpenCV order). Shapes are drawn anti-aliased with OpenCV's fixed-point `shift`, so
sub-pixel keypoints and the drawn bodies agree to 1/16 px; the same shapes go, without anti-aliasing, into a
uint8 label map (which part covers each pixel) and a per-person amodal mask.
"""
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ._person import Shape, hsv

SHIFT = 4
_ONE = 1 << SHIFT


def _fix(pt) -> tuple:
    return int(round(float(pt[0]) * _ONE)), int(round(float(pt[1]) * _ONE))


def _fix_len(r: float) -> int:
    return max(1, int(round(r * _ONE)))


@lru_cache(maxsize=16)
def _grid(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def _bg_colour(rng: np.random.Generator) -> np.ndarray:
    # backgrounds are mostly muted so the saturated people stand out; sometimes they are not
    sat = rng.uniform(0, 0.45) if rng.random() < 0.85 else rng.uniform(0.45, 1.0)
    return np.array(hsv(rng.uniform(0, 360), sat, rng.uniform(0.25, 0.95)), np.float32)


def _any_colour(rng: np.random.Generator) -> tuple:
    return hsv(rng.uniform(0, 360), rng.uniform(0, 1), rng.uniform(0.15, 1))


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w) float32 pattern in [0, 1]: stripes, checks, smooth noise or fine noise."""
    yy, xx = _grid(h, w)
    kind = rng.integers(4)
    if kind < 2:
        theta = rng.uniform(0, np.pi)
        coord = xx * np.cos(theta) + yy * np.sin(theta)
        period = rng.uniform(4, 40)
        if kind == 0:
            return 0.5 + 0.5 * np.sin(coord * (2 * np.pi / period) + rng.uniform(0, 2 * np.pi))
        other = -xx * np.sin(theta) + yy * np.cos(theta)
        return ((np.floor(coord / period) + np.floor(other / period)) % 2).astype(np.float32)
    if kind == 2:
        cells = rng.random((int(rng.integers(2, 9)), int(rng.integers(2, 9)))).astype(np.float32)
        return np.clip(cv2.resize(cells, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)
    return rng.random((h, w), dtype=np.float32)


def draw_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Gradient or smooth-noise base, an optional texture layer, then clutter shapes."""
    c0, c1 = _bg_colour(rng), _bg_colour(rng)
    # the base is smooth: draw it at 1/4 size and upsample
    bh, bw = (h + 3) // 4, (w + 3) // 4
    yy, xx = _grid(bh, bw)
    kind = rng.integers(3)
    if kind == 0:
        theta = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(theta) + yy * np.sin(theta)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    elif kind == 1:
        cx, cy = rng.uniform(0, bw), rng.uniform(0, bh)
        t = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / np.hypot(bw, bh)
    else:
        t = np.clip(cv2.resize(rng.random((3, 3), dtype=np.float32), (bw, bh), interpolation=cv2.INTER_CUBIC), 0, 1)
    base = cv2.resize((c0 + t[..., None] * (c1 - c0)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.6:
        alpha = (_texture(rng, h, w) * rng.uniform(0.15, 0.5)).astype(np.float32)
        base = cv2.blendLinear(base, np.full_like(base, _bg_colour(rng)), 1 - alpha, alpha)
    img = np.clip(base + 0.5, 0, 255).astype(np.uint8)
    draw_clutter(rng, img, int(rng.integers(2, 15)))
    return img


def draw_clutter(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Random rectangles, ellipses, polygons, lines, text and limb-like sticks (distractors)."""
    h, w = img.shape[:2]
    size = min(h, w)
    for _ in range(count):
        colour = _any_colour(rng)
        kind = rng.integers(7)
        c = (rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h)
        r = size * rng.uniform(0.03, 0.3)
        fill = -1 if rng.random() < 0.7 else int(rng.integers(1, 4))
        if kind == 0:
            pts = cv2.boxPoints((c, (r * rng.uniform(0.3, 2), r * rng.uniform(0.3, 2)), rng.uniform(0, 180)))
            _poly(img, pts, colour, fill)
        elif kind == 1:
            cv2.ellipse(img, _fix(c), (_fix_len(r), _fix_len(r * rng.uniform(0.3, 1))), rng.uniform(0, 180), 0, 360,
                        colour, fill, cv2.LINE_AA, SHIFT)
        elif kind == 2:
            n = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * np.pi, n))
            pts = np.stack([c[0] + r * np.cos(ang), c[1] + r * np.sin(ang)], 1)
            _poly(img, pts, colour, fill)
        elif kind == 3:
            p1 = (c[0] + rng.uniform(-2, 2) * r, c[1] + rng.uniform(-2, 2) * r)
            cv2.line(img, _fix(c), _fix(p1), colour, int(rng.integers(1, 6)), cv2.LINE_AA, SHIFT)
        elif kind == 4:
            text = ''.join(chr(int(x)) for x in rng.integers(65, 91, int(rng.integers(1, 6))))
            cv2.putText(img, text, (int(c[0]), int(c[1])), int(rng.integers(0, 8)), float(rng.uniform(0.4, 2)),
                        colour, int(rng.integers(1, 4)), cv2.LINE_AA)
        else:  # sticks look like limbs: the model has to use the body's structure, not colour alone
            p1 = np.array(c) + rng.uniform(-1, 1, 2) * r * 1.5
            p2 = p1 + rng.uniform(-1, 1, 2) * r * 1.5
            t = max(2, int(r * rng.uniform(0.1, 0.25)))
            hue = rng.choice([rng.uniform(-15, 35), rng.uniform(195, 240), rng.uniform(0, 360)])
            colour = hsv(hue, rng.uniform(0.5, 1), rng.uniform(0.5, 1))
            for a, b in ((c, p1), (p1, p2)):
                cv2.line(img, _fix(a), _fix(b), colour, t, cv2.LINE_AA, SHIFT)
            cv2.circle(img, _fix(p1), _fix_len(t * 0.6), _any_colour(rng), -1, cv2.LINE_AA, SHIFT)


def _poly(img: np.ndarray, pts: np.ndarray, colour, fill: int) -> None:
    fixed = np.round(np.asarray(pts, np.float64) * _ONE).astype(np.int32)
    if fill < 0:
        cv2.fillPoly(img, [fixed], colour, cv2.LINE_AA, SHIFT)
    else:
        cv2.polylines(img, [fixed], True, colour, fill, cv2.LINE_AA, SHIFT)


def draw_occluder(rng: np.random.Generator, img: np.ndarray, label: np.ndarray, centre: np.ndarray,
                  size: float) -> None:
    """A solid or textured rectangle, ellipse or polygon drawn over everything; it clears the label map."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    kind = rng.integers(3)
    sx, sy = size * rng.uniform(0.5, 1.5), size * rng.uniform(0.5, 1.5)
    if kind == 0:
        _poly(mask, cv2.boxPoints((tuple(centre), (sx, sy), rng.uniform(0, 180))), 255, -1)
    elif kind == 1:
        cv2.ellipse(mask, _fix(centre), (_fix_len(sx / 2), _fix_len(sy / 2)), rng.uniform(0, 180), 0, 360, 255, -1,
                    cv2.LINE_AA, SHIFT)
    else:
        n = int(rng.integers(4, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.6, 1.0, n) * size * 0.6
        _poly(mask, np.stack([centre[0] + rad * np.cos(ang), centre[1] + rad * np.sin(ang)], 1), 255, -1)
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha = mask[y0:y1, x0:x1, None].astype(np.float32) / 255
    colour, other = np.array(_any_colour(rng), np.float32), np.array(_any_colour(rng), np.float32)
    if rng.random() < 0.6:
        fill = np.broadcast_to(colour, (y1 - y0, x1 - x0, 3))
    else:
        t = _texture(rng, y1 - y0, x1 - x0)[..., None]
        fill = colour + t * (other - colour)
    patch = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = np.clip(patch * (1 - alpha) + fill * alpha + 0.5, 0, 255).astype(np.uint8)
    label[mask >= 128] = 0


def render_shapes(shapes: Sequence[Shape], img: Optional[np.ndarray], label: Optional[np.ndarray],
                  base_id: int = 1, outline_colour=(0, 0, 0)) -> None:
    """Draw shapes anti-aliased into `img` and as `base_id + part` (no anti-aliasing) into `label`.

    Either target may be None; drawing into a zeroed canvas and testing `> 0` gives a person's silhouette.
    """
    for shape in shapes:
        kind, part, colour, outline = shape[:4]
        geo = shape[4:]
        targets = []
        if img is not None:
            if outline > 0:
                targets.append((img, outline_colour, outline, cv2.LINE_AA))
            targets.append((img, colour, 0, cv2.LINE_AA))
        if label is not None:
            targets.append((label, int(base_id + part), 0, cv2.LINE_8))
        for canvas, col, grow, line in targets:
            _draw_one(canvas, kind, geo, col, grow, line)


def _draw_one(canvas: np.ndarray, kind: str, geo: tuple, colour, grow: float, line: int) -> None:
    if kind == 'capsule':
        p0, p1, r0, r1 = geo
        r0, r1 = r0 + grow, r1 + grow
        d = np.asarray(p1, np.float64) - p0
        n = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9)
        cv2.circle(canvas, _fix(p0), _fix_len(r0), colour, -1, line, SHIFT)
        cv2.circle(canvas, _fix(p1), _fix_len(r1), colour, -1, line, SHIFT)
        quad = np.stack([p0 + n * r0, p1 + n * r1, p1 - n * r1, p0 - n * r0])
        cv2.fillConvexPoly(canvas, np.round(quad * _ONE).astype(np.int32), colour, line, SHIFT)
    elif kind == 'circle':
        centre, r = geo
        cv2.circle(canvas, _fix(centre), _fix_len(r + grow), colour, -1, line, SHIFT)
    elif kind in ('ellipse', 'half_ellipse'):
        centre, (ax, ay), angle = geo
        start = 180 if kind == 'half_ellipse' else 0
        cv2.ellipse(canvas, _fix(centre), (_fix_len(ax + grow), _fix_len(ay + grow)), float(angle), start, 360,
                    colour, -1, line, SHIFT)
    elif kind == 'poly':
        (pts, ) = geo
        fixed = np.round(np.asarray(pts) * _ONE).astype(np.int32)
        if grow > 0:
            cv2.polylines(canvas, [fixed], True, colour, int(round(2 * grow)), line, SHIFT)
        cv2.fillConvexPoly(canvas, fixed, colour, line, SHIFT)
    else:
        raise ValueError(f'unknown shape kind {kind!r}')


def finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Global photometric jitter: sometimes blur, contrast and a colour cast, sensor-like noise."""
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.0))
    levels = (np.arange(256, dtype=np.float32)[:, None] - 128) * rng.uniform(0.8, 1.15) + 128
    lut = np.clip(levels + rng.uniform(-12, 12, 3).astype(np.float32) + 0.5, 0, 255).astype(np.uint8)
    img = cv2.LUT(img, lut[:, None, :])
    noise = rng.standard_normal((*img.shape[:2], 1), dtype=np.float32) * rng.uniform(0, 6)
    return np.clip(img + np.round(noise), 0, 255).astype(np.uint8)
