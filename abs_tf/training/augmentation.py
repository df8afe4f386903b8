"""Random geometric distortions of training digits (issue 2, experimental).

The pipeline of a public PyTorch training script of the ABS architecture, which uses the
Augmentor library (Bloice et al., Bioinformatics 2019): zoom (factor in [0.9, 1.1]), shear
(up to 6 degrees, then the largest upright rectangle is cropped and stretched back to 28 x
28), perspective skew (magnitude 0.25: one side or corner of the image moved outwards by
1..7 pixels) and a 3 x 3 grid distortion (magnitude 1: the four inner grid points moved by
-1, 0 or 1 pixel), in this order, each applied with probability `probability`. Augmentor
decides with round(U(0, 1), 1) <= p, so its p = 0.1 applies an operation to 15 % of the
images; this module takes `probability` as the real rate and its default is 0.15.

Every operation is a map from output to input coordinates (continuous coordinates, pixel
(i, j) covers [j, j + 1) x [i, i + 1), as in PIL); the four maps are composed and the input
is sampled once, bilinearly, with zero outside (Augmentor resamples bicubically after each
operation).
"""

import math

import numpy as np

IMAGE_SIZE = 28
PROBABILITY = 0.15        # Augmentor's p = 0.1 (see the module docstring)
ZOOM_RANGE = (0.9, 1.1)
MAX_SHEAR_DEGREES = 6
SKEW_MAGNITUDE = 0.25
GRID_TILES = 3
GRID_MAGNITUDE = 1
GRID_NODES = (0, 9, 18, IMAGE_SIZE)     # Augmentor's 3 x 3 tiles of 9, 9 and 10 pixels
# The image's corners (TL, TR, BR, BL) as (x, y), and each pixel's centre [28, 28, (x, y)].
CORNERS = np.array([[0, 0], [IMAGE_SIZE, 0], [IMAGE_SIZE, IMAGE_SIZE], [0, IMAGE_SIZE]],
                   np.float64)
_CENTRES = np.arange(IMAGE_SIZE) + 0.5
PIXEL_CENTRES = np.stack(np.meshgrid(_CENTRES, _CENTRES), axis=-1)
# Tent weights [28, 4]: pixel centre -> grid nodes (bilinear within each tile).
_GRID_WEIGHTS = np.stack([np.interp(_CENTRES, GRID_NODES, np.eye(len(GRID_NODES))[k])
                          for k in range(len(GRID_NODES))], axis=1)
# Augmentor's tilts (left, right, forward, backward) as (corner, axis, sign) moves: left and
# right stretch one vertical side in y, forward and backward one horizontal side in x; each
# skew type draws its tilt from a range of them.
_TILTS = (((0, 1, -1), (3, 1, 1)), ((1, 1, -1), (2, 1, 1)),
          ((0, 0, -1), (1, 0, 1)), ((2, 0, 1), (3, 0, -1)))
_TILT_DIRECTIONS = {"TILT": (0, 4), "TILT_LEFT_RIGHT": (0, 2), "TILT_TOP_BOTTOM": (2, 4)}


def zoom_map(rng: np.random.Generator) -> np.ndarray:
  """Resize by f (rounded to 2 digits) to n = round(28 f) pixels, crop the centre 28."""
  n = round(IMAGE_SIZE * round(rng.uniform(*ZOOM_RANGE), 2))
  left = math.floor(n / 2 - IMAGE_SIZE / 2)
  s = IMAGE_SIZE / n
  return np.array([[s, 0, left * s], [0, s, left * s], [0, 0, 1]])


def shear_map(rng: np.random.Generator) -> np.ndarray:
  """Augmentor's Shear: an integer angle, a shear along x or y on a widened canvas, the
  crop of the rows (columns) every input row (column) covers, stretched back to 28."""
  angle = int(rng.uniform(-MAX_SHEAR_DEGREES - 1, MAX_SHEAR_DEGREES + 1))
  if angle != -1:
    angle += 1
  phi = math.tan(math.radians(angle))
  shift = phi * IMAGE_SIZE
  along_x = rng.random() < 0.5
  if along_x:
    shift = math.ceil(shift) if shift > 0 else math.floor(shift)
  offset = shift
  if angle <= 0:
    shift, offset, phi = abs(shift), 0.0, -abs(phi)
  crop = round(shift)
  stretch = (IMAGE_SIZE - crop) / IMAGE_SIZE
  # output u -> cropped canvas u * stretch + crop -> input through (1, phi, -offset).
  if along_x:
    return np.array([[stretch, phi, crop - offset], [0, 1, 0], [0, 0, 1]])
  return np.array([[1, 0, 0], [phi, stretch, crop - offset], [0, 0, 1]])


def skew_corners(rng: np.random.Generator) -> np.ndarray:
  """Where Augmentor's random skew puts the input's corners (TL, TR, BR, BL) as (x, y)."""
  amount = int(rng.integers(1, math.ceil(IMAGE_SIZE * SKEW_MAGNITUDE) + 1))
  corners = CORNERS.copy()
  kind = rng.choice(["TILT", "TILT_LEFT_RIGHT", "TILT_TOP_BOTTOM", "CORNER"])
  if kind == "CORNER":
    # Eight moves: one corner, outwards along x or y.
    direction = int(rng.integers(0, 8))
    corner, axis = direction // 2, direction % 2
    outwards = corners[corner] - IMAGE_SIZE / 2
    corners[corner, axis] += amount * np.sign(outwards[axis])
    return corners
  for corner, axis, sign in _TILTS[int(rng.integers(*_TILT_DIRECTIONS[kind]))]:
    corners[corner, axis] += sign * amount
  return corners


def perspective_to(corners: np.ndarray) -> np.ndarray:
  """The projective map from output to input coordinates that takes `corners` (4 x 2,
  TL, TR, BR, BL in the output) to the input's corners; 3 x 3, last entry 1."""
  rows, rhs = [], []
  for (x, y), (u, v) in zip(corners, CORNERS):
    rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
    rhs += [u, v]
  return np.append(np.linalg.solve(np.array(rows), np.array(rhs)), 1.0).reshape(3, 3)


def grid_moves(rng: np.random.Generator) -> np.ndarray:
  """Augmentor's Distort: each inner point of the grid moves by integers in [-1, 1]; the
  border stays. Returns float64 [4, 4, 2]: (dx, dy) per grid point [row, column]."""
  moves = np.zeros((len(GRID_NODES), len(GRID_NODES), 2))
  for row in range(1, GRID_TILES):
    for column in range(1, GRID_TILES):
      moves[row, column] = rng.integers(-GRID_MAGNITUDE, GRID_MAGNITUDE + 1, 2)
  return moves


def grid_displacement(moves: np.ndarray) -> np.ndarray:
  """Each tile maps bilinearly onto its moved quad (PIL's MESH transform). Returns the
  displacement (dx, dy) at each pixel centre, float64 [28, 28, 2]."""
  return np.einsum("ir,rcd,jc->ijd", _GRID_WEIGHTS, moves, _GRID_WEIGHTS)


def source_coordinates(matrix: np.ndarray, displacement: np.ndarray = 0.0) -> np.ndarray:
  """The input point each output pixel shows: the projective map `matrix` (3 x 3) of the
  pixel centre plus `displacement` ([28, 28, 2] or 0). Returns float64 [28, 28, (x, y)]."""
  points = PIXEL_CENTRES + displacement
  mapped = points @ matrix[:, :2].T + matrix[:, 2]
  return mapped[..., :2] / mapped[..., 2:]


def sample(images: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
  """Bilinear samples of images at continuous coordinates, zero outside.

  Args:
    images: [N, 28, 28, 1].
    coordinates: [N, 28, 28, 2], (x, y) of the input point seen at each output pixel.

  Returns:
    float32 [N, 28, 28, 1].
  """
  n = len(images)
  padded = np.pad(images[..., 0], ((0, 0), (1, 1), (1, 1)))
  x = coordinates[..., 0] - 0.5
  y = coordinates[..., 1] - 0.5
  x0, y0 = np.floor(x), np.floor(y)
  wx, wy = x - x0, y - y0
  index = np.arange(n)[:, None, None]

  def at(yy, xx):
    yy = np.clip(yy, -1, IMAGE_SIZE).astype(np.int64) + 1
    xx = np.clip(xx, -1, IMAGE_SIZE).astype(np.int64) + 1
    return padded[index, yy, xx]

  out = ((1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x0 + 1)) +
         wy * ((1 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1)))
  return out[..., None].astype(np.float32)


def augment(images: np.ndarray, rng: np.random.Generator,
            probability: float = PROBABILITY) -> np.ndarray:
  """images float32 [N, 28, 28, 1] in [0, 1] -> the same shape, randomly distorted."""
  if not 0.0 <= probability <= 1.0:
    raise ValueError(f"probability must be in [0, 1], got {probability!r}.")
  images = np.asarray(images, np.float32)
  if images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
    raise ValueError(f"images must be [N, 28, 28, 1], got {images.shape}.")
  applied = rng.random((len(images), 4)) < probability
  chosen = np.flatnonzero(applied.any(axis=1))
  if not len(chosen):
    return images.copy()
  coordinates = np.empty((len(chosen), IMAGE_SIZE, IMAGE_SIZE, 2))
  for k, i in enumerate(chosen):
    zoom, shear, skew, distort = applied[i]
    matrix = np.eye(3)
    if zoom:
      matrix = matrix @ zoom_map(rng)
    if shear:
      matrix = matrix @ shear_map(rng)
    if skew:
      matrix = matrix @ perspective_to(skew_corners(rng))
    displacement = grid_displacement(grid_moves(rng)) if distort else 0.0
    coordinates[k] = source_coordinates(matrix, displacement)
  out = images.copy()
  out[chosen] = sample(images[chosen], coordinates)
  return out
