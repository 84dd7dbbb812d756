"""Model-free picture measures for the quality benchmark (bench/quality.py).

None of them uses the VGG16 the optimiser sees, so a change cannot score well here just by fitting
its own loss. All take RGB uint8 arrays (H, W, 3) and are pure NumPy/SciPy.

- ``palette_distance``: sliced Wasserstein distance between two pictures' pixel colours in CIELAB
  (how far the colours of the result are from the painting's, whatever their place).
- ``high_frequency``: mean absolute Laplacian of the luminance (fine texture and noise; a calm
  sky scores low, ripples score high).
- ``flat_high_frequency``: the same, only where the photo is flat (its flattest quarter: skies,
  still water): ripples the painting put where the photo had none.
- ``ssim``: structural similarity of two luminance pictures (Wang et al. 2004, Gaussian window),
  the structure of the photo kept.
- ``stroke_coherence``: how much the strokes in an area run one way (the structure tensor's
  coherence, 1 for parallel lines, near 0 for round dots or noise); in the photo's flat areas over
  the painting's own, it says whether a sky is painted in the painting's long strokes or in dots.
- ``dark_ssim``: ``ssim`` only where the photo is darkest (its darkest quarter): the shapes in the
  shadows kept (a tree against a dark bank, reflections in a river).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

# sRGB (D65) to XYZ, then XYZ to CIELAB with the D65 white point.
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_WHITE = np.array([0.95047, 1.0, 1.08883])
MEASURE_SIDE = 256  # pictures are compared at this longest side, so sizes do not bias the numbers
FLAT_SHARE = 0.25  # the photo's flattest quarter of pixels counts as its flat areas
FLAT_SIGMA = 4.0  # px at MEASURE_SIDE: how far around a pixel the photo must be flat
DARK_SHARE = 0.25  # the photo's darkest quarter of pixels counts as its dark areas
STROKE_SIGMA = 3.0  # px at MEASURE_SIDE: the neighbourhood over which a stroke's direction is taken


def resize_longest(rgb: np.ndarray, longest: int = MEASURE_SIDE) -> np.ndarray:
    """``rgb`` with its longest side ``longest`` (Lanczos), aspect kept."""
    height, width = rgb.shape[:2]
    scale = longest / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L in 0..100) of an sRGB uint8 picture, as float64 (..., 3)."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma in 0..255, float64."""
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def palette_distance(a_rgb: np.ndarray, b_rgb: np.ndarray, *, projections: int = 64, quantiles: int = 256,
                     seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between the Lab colours of two pictures (Lab units; 0 = same palette).

    Every pixel is projected on ``projections`` random unit directions (fixed seed); the two
    pictures' projections are compared at ``quantiles`` evenly spaced quantiles, so pictures of
    different sizes compare fairly; the mean absolute difference over directions is returned.
    """
    directions = np.random.default_rng(seed).normal(size=(projections, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    levels = (np.arange(quantiles) + 0.5) / quantiles
    a = np.quantile(rgb_to_lab(a_rgb).reshape(-1, 3) @ directions.T, levels, axis=0)
    b = np.quantile(rgb_to_lab(b_rgb).reshape(-1, 3) @ directions.T, levels, axis=0)
    return float(np.mean(np.abs(a - b)))


def high_frequency(rgb: np.ndarray) -> float:
    """Mean absolute Laplacian of the luminance at MEASURE_SIDE (grey levels per pixel)."""
    return float(np.mean(np.abs(ndimage.laplace(luminance(resize_longest(rgb))))))


def flat_areas(photo_rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask (``shape``) of the photo's flattest FLAT_SHARE of pixels: where its luminance
    gradient, averaged over a FLAT_SIGMA Gaussian, is lowest."""
    lum = luminance(_resized_to(photo_rgb, shape))
    gradient = np.hypot(ndimage.sobel(lum, axis=0), ndimage.sobel(lum, axis=1))
    local = ndimage.gaussian_filter(gradient, FLAT_SIGMA)
    return local <= np.quantile(local, FLAT_SHARE)


def flat_high_frequency(rgb: np.ndarray, photo_rgb: np.ndarray) -> float:
    """Mean absolute Laplacian of ``rgb``'s luminance (at MEASURE_SIDE) over the photo's flat areas."""
    lum = luminance(resize_longest(rgb))
    return float(np.mean(np.abs(ndimage.laplace(lum))[flat_areas(photo_rgb, lum.shape)]))


def ssim(a_rgb: np.ndarray, b_rgb: np.ndarray, *, sigma: float = 1.5) -> float:
    """Mean SSIM of the two pictures' luminance, both at MEASURE_SIDE and ``b`` at ``a``'s shape."""
    return float(np.mean(ssim_map(a_rgb, b_rgb, sigma=sigma)))


def ssim_map(a_rgb: np.ndarray, b_rgb: np.ndarray, *, sigma: float = 1.5) -> np.ndarray:
    """SSIM per pixel of the two pictures' luminance, both at MEASURE_SIDE and ``b`` at ``a``'s shape."""
    a = luminance(resize_longest(a_rgb))
    b = luminance(_resized_to(b_rgb, a.shape))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: ndimage.gaussian_filter(x, sigma)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))


def _resized_to(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    small = resize_longest(rgb)
    if small.shape[:2] != shape:
        small = np.asarray(Image.fromarray(small).resize((shape[1], shape[0]), Image.LANCZOS))
    return small


def dark_areas(photo_rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask (``shape``) of the photo's darkest DARK_SHARE of pixels (its luminance, lightly blurred)."""
    lum = ndimage.gaussian_filter(luminance(_resized_to(photo_rgb, shape)), 2.0)
    return lum <= np.quantile(lum, DARK_SHARE)


def dark_ssim(photo_rgb: np.ndarray, rgb: np.ndarray) -> float:
    """Mean SSIM with the photo over the photo's dark areas: its shapes kept in the shadows."""
    index = ssim_map(photo_rgb, rgb)
    return float(np.mean(index[dark_areas(photo_rgb, index.shape)]))


def coherence_map(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The structure tensor's coherence (λ₁ − λ₂) / (λ₁ + λ₂) per pixel at MEASURE_SIDE, and its
    energy λ₁ + λ₂ (how much texture there is to have a direction)."""
    lum = ndimage.gaussian_filter(luminance(resize_longest(rgb)), 1.0)
    gy, gx = ndimage.sobel(lum, axis=0), ndimage.sobel(lum, axis=1)
    jxx, jyy, jxy = (ndimage.gaussian_filter(v, STROKE_SIGMA) for v in (gx * gx, gy * gy, gx * gy))
    energy = jxx + jyy
    spread = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2)  # λ₁ − λ₂
    return spread / np.maximum(energy, 1e-9), energy


def stroke_coherence(rgb: np.ndarray, where: np.ndarray | None = None) -> float:
    """Coherence averaged by texture energy (flat, textureless pixels have no direction to count),
    over ``where`` (a boolean mask at MEASURE_SIDE) or the whole picture."""
    coherence, energy = coherence_map(rgb)
    if where is not None:
        coherence, energy = coherence[where], energy[where]
    return float(np.sum(coherence * energy) / max(float(np.sum(energy)), 1e-9))


def flat_stroke_coherence(rgb: np.ndarray, photo_rgb: np.ndarray) -> float:
    """``stroke_coherence`` of ``rgb`` over the photo's flat areas."""
    return stroke_coherence(rgb, flat_areas(photo_rgb, resize_longest(rgb).shape[:2]))


def picture_scores(result: np.ndarray, photo: np.ndarray, painting: np.ndarray) -> dict[str, float]:
    """The benchmark's row for one picture: palette distance to the painting, texture, structure kept.

    ``hf_vs_painting`` is the result's high-frequency energy over the painting's (1 = as busy as
    the painting's own brushwork), ``hf_vs_photo`` over the photo's; ``flat_hf_vs_painting`` is the
    high-frequency energy in the photo's flat areas over the painting's whole (ripples in the sky);
    ``strokes_vs_painting`` the stroke coherence in the photo's flat areas over the painting's own
    (1: strokes there run one way as much as the painting's do); ``dark_ssim`` the structure kept
    in the photo's shadows.
    """
    hf = high_frequency(result)
    painting_hf = max(high_frequency(painting), 1e-9)
    return {
        "palette_distance": round(palette_distance(resize_longest(result), resize_longest(painting)), 3),
        "hf": round(hf, 3),
        "hf_vs_painting": round(hf / painting_hf, 3),
        "flat_hf_vs_painting": round(flat_high_frequency(result, photo) / painting_hf, 3),
        "hf_vs_photo": round(hf / max(high_frequency(photo), 1e-9), 3),
        "ssim_photo": round(ssim(photo, result), 4),
        "strokes_vs_painting": round(flat_stroke_coherence(result, photo) / max(stroke_coherence(painting), 1e-9), 3),
        "dark_ssim": round(dark_ssim(photo, result), 4),
    }
