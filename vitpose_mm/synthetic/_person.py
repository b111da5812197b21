"""Procedural people for the synthetic dataset: pose sampling, body style and the shapes that draw them.

A person is a set of named 2-D points (the 17 COCO keypoints plus helpers such as the head centre and the
hand tips) and a style (colours, limb radii). Every person faces the camera, so the person's left side is on
the image's right. Left limbs are drawn in red-orange hues and right limbs in blue hues, consistently over the
dataset: that makes left/right resolvable from appearance, but it also means a horizontally flipped image has
wrongly coloured sides, so flip augmentation should be off when training on this data.
"""
import colorsys
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

# Body parts: the label map stores `1 + person_index * NUM_PARTS + part` so visibility can be decided per part.
TORSO, HEAD, L_UPPER_ARM, L_FOREARM, R_UPPER_ARM, R_FOREARM, L_THIGH, L_SHIN, R_THIGH, R_SHIN = range(10)
NUM_PARTS = 10

# COCO keypoint order; each keypoint counts as visible when its pixel shows one of these parts.
KEYPOINT_NAMES = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder',
                  'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
                  'right_knee', 'left_ankle', 'right_ankle')
KEYPOINT_PARTS = ((HEAD, ), (HEAD, ), (HEAD, ), (HEAD, ), (HEAD, ), (TORSO, L_UPPER_ARM), (TORSO, R_UPPER_ARM),
                  (L_UPPER_ARM, L_FOREARM), (R_UPPER_ARM, R_FOREARM), (L_FOREARM, ), (R_FOREARM, ),
                  (TORSO, L_THIGH), (TORSO, R_THIGH), (L_THIGH, L_SHIN), (R_THIGH, R_SHIN), (L_SHIN, ), (R_SHIN, ))

Colour = Tuple[int, int, int]
# A shape is (kind, part, colour, outline_px, geometry...); see `_draw.render_shapes`.
Shape = tuple

# (low, high) in degrees for (shoulder, elbow) or (hip, knee) per family. The first angle is measured from
# "hanging down" towards the outside of the body (90 = horizontal, 180 = straight up, < 0 = across the body);
# the second is added to it for the lower segment.
_ARM_POSES = {
    'down': ((5, 35), (-25, 40)),
    'raised': ((105, 175), (-45, 45)),
    'horizontal': ((65, 110), (-35, 35)),
    'akimbo': ((25, 55), (-140, -90)),
    'reach': ((-35, 70), (-120, 70)),
    'free': ((-40, 180), (-140, 140)),
}
_ARM_WEIGHTS = (0.3, 0.17, 0.12, 0.1, 0.16, 0.15)
_LEG_POSES = {
    'stand': ((0, 14), (-10, 10)),
    'walk': ((-12, 30), (-40, 15)),
    'squat': ((20, 50), (-75, -25)),
    'kick': ((35, 95), (-45, 30)),
    'free': ((-25, 65), (-95, 45)),
}
_LEG_WEIGHTS = (0.35, 0.27, 0.12, 0.08, 0.18)


def hsv(hue_deg: float, sat: float, val: float) -> Colour:
    """BGR (OpenCV order) 0-255 colour from hue in degrees and saturation/value in [0, 1]."""
    r, g, b = colorsys.hsv_to_rgb((hue_deg % 360.0) / 360.0, min(max(sat, 0.0), 1.0), min(max(val, 0.0), 1.0))
    return int(round(b * 255)), int(round(g * 255)), int(round(r * 255))


def _unit(deg: float) -> np.ndarray:
    rad = np.deg2rad(deg)
    return np.array([np.cos(rad), np.sin(rad)])


@dataclass
class Person:
    """A person: named points (pixels, image coordinates) and a drawing style."""
    points: Dict[str, np.ndarray]
    style: Dict[str, object]
    height: float

    def keypoints(self) -> np.ndarray:
        """(17, 2) float array in COCO order."""
        return np.stack([self.points[name] for name in KEYPOINT_NAMES])

    def shifted(self, offset: np.ndarray) -> 'Person':
        return Person({k: v + offset for k, v in self.points.items()}, self.style, self.height)

    def extent(self) -> np.ndarray:
        """Rough amodal box [x0, y0, x1, y1] used to place people before they are drawn."""
        pts = np.stack(list(self.points.values()))
        pad = 0.06 * self.height
        return np.concatenate([pts.min(0) - pad, pts.max(0) + pad])

    def shapes(self) -> List[Shape]:
        return _build_shapes(self.points, self.style)


def _sample_angles(rng: np.random.Generator, table: dict, weights: tuple) -> Tuple[float, float]:
    name = list(table)[rng.choice(len(table), p=np.asarray(weights) / sum(weights))]
    (a0, a1), (b0, b1) = table[name]
    return rng.uniform(a0, a1), rng.uniform(b0, b1)


def _sample_style(rng: np.random.Generator, height: float) -> dict:
    build = rng.uniform(0.8, 1.3)
    left_hue, right_hue = rng.uniform(-15, 35), rng.uniform(195, 240)
    style = {'outline': max(1, int(round(height / 140))), 'outline_colour': hsv(0, 0, rng.uniform(0.0, 0.18))}
    for side, hue in (('left', left_hue), ('right', right_hue)):
        arm_s, arm_v = rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0)
        leg_hue = hue + rng.uniform(-10, 10)
        leg_s, leg_v = rng.uniform(0.6, 1.0), rng.uniform(0.5, 0.85)
        style[side + '_arm'] = hsv(hue, arm_s, arm_v)
        style[side + '_forearm'] = hsv(hue + rng.uniform(-8, 8), arm_s * rng.uniform(0.75, 1.0), arm_v)
        style[side + '_leg'] = hsv(leg_hue, leg_s, leg_v)
        # joints are a pale tint of their limb: marked, yet still on the limb's side of the colour code
        style[side + '_joint'] = hsv(hue, arm_s * 0.35, min(1.0, arm_v + 0.3))
        style[side + '_leg_joint'] = hsv(leg_hue, leg_s * 0.35, min(1.0, leg_v + 0.35))
    family = rng.integers(3)
    if family == 0:
        torso = hsv(rng.uniform(75, 160), rng.uniform(0.4, 0.9), rng.uniform(0.4, 0.95))
    elif family == 1:
        torso = hsv(rng.uniform(260, 310), rng.uniform(0.4, 0.9), rng.uniform(0.4, 0.95))
    else:
        torso = hsv(rng.uniform(0, 360), rng.uniform(0.0, 0.15), rng.uniform(0.15, 0.95))
    skin_v = rng.uniform(0.35, 0.95)
    style.update(
        torso=torso,
        skin=hsv(rng.uniform(15, 35), rng.uniform(0.25, 0.6), skin_v),
        skin_dark=hsv(rng.uniform(5, 25), rng.uniform(0.4, 0.7), skin_v * 0.6),
        ear=hsv(rng.uniform(10, 30), rng.uniform(0.35, 0.65), skin_v * 0.8),
        hair=hsv(rng.uniform(0, 50), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.75)),
        has_hair=bool(rng.random() < 0.8),
        shoe=hsv(rng.uniform(0, 360), rng.uniform(0, 0.5), rng.uniform(0.05, 0.35)),
        rad_upper_arm=0.032 * height * build, rad_forearm=0.026 * height * build, rad_hand=0.028 * height,
        rad_thigh=0.046 * height * build, rad_shin=0.035 * height * build, shoulder_pad=0.02 * height * build,
        rad_neck=0.028 * height * build)
    return style


def sample_person(rng: np.random.Generator, height: float) -> Person:
    """Sample a person about `height` pixels tall with the pelvis at the origin."""
    prop = rng.uniform(0.92, 1.08, size=8) * height
    roll = rng.random()
    if roll < 0.8:
        lean = rng.normal(0, 8)
    elif roll < 0.96:
        lean = rng.uniform(-45, 45)
    else:  # lying down
        lean = rng.choice([-1, 1]) * rng.uniform(60, 100)
    up, right = _unit(lean - 90), _unit(lean)  # image y points down; `right` is the person's left
    yaw = rng.uniform(-0.5, 0.5) if rng.random() < 0.4 else 0.0
    width = 1.0 - 0.35 * abs(yaw)

    pts = {'pelvis': np.zeros(2)}
    pts['neck'] = up * 0.29 * prop[0]
    for name, side in (('left', 1.0), ('right', -1.0)):
        pts[name + '_shoulder'] = pts['neck'] + side * right * 0.11 * prop[1] * width
        pts[name + '_hip'] = side * right * 0.065 * prop[2] * width

    def direction(angle: float, side: float) -> np.ndarray:
        rad = np.deg2rad(angle)
        return -up * np.cos(rad) + side * right * np.sin(rad)

    arm_shared = _sample_angles(rng, _ARM_POSES, _ARM_WEIGHTS) if rng.random() < 0.5 else None
    for name, side in (('left', 1.0), ('right', -1.0)):
        shoulder, elbow = arm_shared or _sample_angles(rng, _ARM_POSES, _ARM_WEIGHTS)
        if arm_shared:  # symmetric-ish poses (both arms up, T-pose) are common; jitter them a little
            shoulder, elbow = shoulder + rng.normal(0, 8), elbow + rng.normal(0, 10)
        d_upper, d_lower = direction(shoulder, side), direction(shoulder + elbow, side)
        pts[name + '_elbow'] = pts[name + '_shoulder'] + d_upper * 0.16 * prop[3]
        pts[name + '_wrist'] = pts[name + '_elbow'] + d_lower * 0.14 * prop[4]
        pts[name + '_hand'] = pts[name + '_wrist'] + d_lower * 0.035 * height

    sitting = rng.random() < 0.1
    for name, side in (('left', 1.0), ('right', -1.0)):
        hip, knee = _sample_angles(rng, _LEG_POSES, _LEG_WEIGHTS)
        thigh = 0.23 * prop[5]
        if sitting:  # thighs pointing at the camera: foreshortened, shins hanging down
            hip, thigh = rng.uniform(5, 40), thigh * rng.uniform(0.25, 0.5)
            knee = -hip + rng.uniform(-12, 12)
        d_thigh, d_shin = direction(hip, side), direction(hip + knee, side)
        pts[name + '_knee'] = pts[name + '_hip'] + d_thigh * thigh
        pts[name + '_ankle'] = pts[name + '_knee'] + d_shin * 0.22 * prop[6]
        # feet point outwards and down the shin
        toe = d_shin * 0.35 + side * right * rng.uniform(0.5, 1.0)
        pts[name + '_toe'] = pts[name + '_ankle'] + toe / np.linalg.norm(toe) * 0.055 * height

    tilt = rng.normal(0, 10)
    h_up, h_right = _unit(lean + tilt - 90), _unit(lean + tilt)
    head_h, head_w = 0.068 * prop[7], 0.052 * prop[7] * rng.uniform(0.9, 1.1)
    centre = pts['neck'] + up * 0.035 * height + h_up * head_h
    face = yaw * 0.45 * head_w  # features slide sideways when the head turns
    pts['head'] = centre
    pts['nose'] = centre - h_up * 0.2 * head_h + h_right * face * 1.3
    for name, side in (('left', 1.0), ('right', -1.0)):
        pts[name + '_eye'] = centre + h_up * 0.15 * head_h + h_right * (side * 0.4 * head_w + face)
        pts[name + '_ear'] = centre + h_up * 0.05 * head_h + h_right * (side * 1.0 * head_w + 0.25 * face)
    style = _sample_style(rng, height)
    style.update(head_axes=(head_w, head_h), head_angle=lean + tilt)
    return Person(pts, style, height)


def _limb(shapes: list, part: int, colour: Colour, outline: int, p0, p1, r0: float, r1: float) -> None:
    shapes.append(('capsule', part, colour, outline, p0, p1, r0, r1))


def _build_shapes(p: Dict[str, np.ndarray], st: dict) -> List[Shape]:
    """Shapes in drawing order: torso, legs, neck and head, arms (arms always in front)."""
    out, ol = [], st['outline']
    pad = st['shoulder_pad']
    across = p['left_shoulder'] - p['right_shoulder']
    across = across / (np.linalg.norm(across) + 1e-6)
    torso = [p['left_shoulder'] + across * pad, p['right_shoulder'] - across * pad,
             p['right_hip'] - across * pad * 0.6, p['left_hip'] + across * pad * 0.6]
    out.append(('poly', TORSO, st['torso'], ol, np.stack(torso)))
    for s, parts in (('left', (L_THIGH, L_SHIN)), ('right', (R_THIGH, R_SHIN))):
        _limb(out, parts[0], st[s + '_leg'], ol, p[s + '_hip'], p[s + '_knee'], st['rad_thigh'], st['rad_thigh'] * 0.85)
        _limb(out, parts[1], st[s + '_leg'], ol, p[s + '_knee'], p[s + '_ankle'], st['rad_shin'], st['rad_shin'] * 0.8)
        _limb(out, parts[1], st['shoe'], ol, p[s + '_ankle'], p[s + '_toe'], st['rad_shin'] * 0.8, st['rad_shin'] * 0.7)
        out.append(('circle', parts[0], st[s + '_leg_joint'], 0, p[s + '_hip'], st['rad_thigh'] * 0.75))
        out.append(('circle', parts[0], st[s + '_leg_joint'], ol, p[s + '_knee'], st['rad_thigh'] * 0.95))
    head_w, head_h = st['head_axes']
    _limb(out, HEAD, st['skin'], ol, (p['left_shoulder'] + p['right_shoulder']) / 2, p['head'], st['rad_neck'],
          st['rad_neck'])
    for s in ('left', 'right'):
        out.append(('ellipse', HEAD, st['ear'], ol, p[s + '_ear'], (0.28 * head_w, 0.36 * head_h),
                    st['head_angle']))
    out.append(('ellipse', HEAD, st['skin'], ol, p['head'], (head_w, head_h), st['head_angle']))
    if st['has_hair']:
        up = _unit(st['head_angle'] - 90)
        out.append(('half_ellipse', HEAD, st['hair'], 0, p['head'] + up * 0.4 * head_h,
                    (head_w * 1.03, head_h * 0.68), st['head_angle']))
    for s in ('left', 'right'):
        out.append(('circle', HEAD, (250, 250, 250), 0, p[s + '_eye'], 0.23 * head_w))
        out.append(('circle', HEAD, (30, 20, 20), 0, p[s + '_eye'], 0.13 * head_w))
    out.append(('circle', HEAD, st['skin_dark'], 0, p['nose'], 0.14 * head_w))
    mouth = p['head'] + (p['nose'] - p['head']) * 2.1
    out.append(('circle', HEAD, (40, 40, 150), 0, mouth, 0.09 * head_w))
    for s, parts in (('left', (L_UPPER_ARM, L_FOREARM)), ('right', (R_UPPER_ARM, R_FOREARM))):
        _limb(out, parts[0], st[s + '_arm'], ol, p[s + '_shoulder'], p[s + '_elbow'], st['rad_upper_arm'],
              st['rad_upper_arm'] * 0.9)
        _limb(out, parts[1], st[s + '_forearm'], ol, p[s + '_elbow'], p[s + '_wrist'], st['rad_forearm'],
              st['rad_forearm'] * 0.8)
        out.append(('circle', parts[1], st['skin'], ol, p[s + '_hand'], st['rad_hand']))
        out.append(('circle', parts[0], st[s + '_joint'], 0, p[s + '_shoulder'], st['rad_upper_arm'] * 0.7))
        out.append(('circle', parts[0], st[s + '_joint'], ol, p[s + '_elbow'], st['rad_upper_arm'] * 1.05))
        out.append(('circle', parts[1], st[s + '_joint'], 0, p[s + '_wrist'], st['rad_forearm'] * 0.8))
    return out
