"""sRGB <-> CIE L*a*b* (D65) in numpy, frame statistics and image similarity scores.

Everything here is pure numpy on HxWx3 uint8 (or float) arrays: no ffmpeg, no I/O.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# sRGB (D65) primaries -> XYZ, and the reference white.
_M = np.array([[0.4124564, 0.3575761, 0.1804375],
               [0.2126729, 0.7151522, 0.0721750],
               [0.0193339, 0.1191920, 0.9503041]])
_M_INV = np.linalg.inv(_M)
_WHITE = np.array([0.95047, 1.0, 1.08883])
_D = 6.0 / 29.0


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 (0..255) or float (0..1) sRGB, shape (..., 3) -> float64 Lab, same shape."""
    c = np.asarray(rgb)
    c = c.astype(np.float64) / 255.0 if c.dtype == np.uint8 else c.astype(np.float64)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = (lin @ _M.T) / _WHITE
    f = np.where(xyz > _D ** 3, np.cbrt(xyz), xyz / (3 * _D * _D) + 4.0 / 29.0)
    L = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], axis=-1)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """Lab (..., 3) -> float sRGB in 0..1 (clipped to the gamut)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    f = np.stack([fx, fy, fz], axis=-1)
    xyz = np.where(f > _D, f ** 3, 3 * _D * _D * (f - 4.0 / 29.0)) * _WHITE
    lin = np.clip(xyz @ _M_INV.T, 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(srgb, 0.0, 1.0)


@dataclass(frozen=True)
class LabStats:
    """Mean and spread (standard deviation) of L*, a*, b* over one frame (or several)."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def of(cls, *frames: np.ndarray) -> "LabStats":
        lab = np.concatenate([srgb_to_lab(f).reshape(-1, 3) for f in frames])
        return cls(tuple(float(v) for v in lab.mean(0)), tuple(float(v) for v in lab.std(0)))

    def to_dict(self) -> dict:
        return {"mean": [round(v, 3) for v in self.mean], "std": [round(v, 3) for v in self.std]}

    @classmethod
    def from_dict(cls, d: dict) -> "LabStats":
        return cls(tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]))


def delta_e(a: LabStats, b: LabStats) -> float:
    """CIE76 ΔE between the two mean colours."""
    return float(np.linalg.norm(np.subtract(a.mean, b.mean)))


def spread_delta(a: LabStats, b: LabStats) -> float:
    """Euclidean distance between the spread vectors (Lab units): a contrast/saturation change."""
    return float(np.linalg.norm(np.subtract(a.std, b.std)))


def spread_ratio(a: LabStats, ref: LabStats) -> float:
    """L* spread of ``a`` over that of ``ref``: 1.0 = same contrast, <1 flatter, >1 punchier."""
    return float(a.std[0] / ref.std[0]) if ref.std[0] > 1e-9 else float("nan")


def drift_score(a: LabStats, ref: LabStats) -> float:
    """One number per frame: sqrt(ΔE(means)² + Δ(spreads)²), in Lab units.

    A ΔE of ~2.3 is a just-noticeable difference; chained renders drifting past ~5 look different
    side by side, past ~10 they look like another grade.
    """
    return math.hypot(delta_e(a, ref), spread_delta(a, ref))


# ---- Reinhard transfer --------------------------------------------------------------------------

@dataclass(frozen=True)
class Transfer:
    """Per-channel affine map in Lab: out = in * scale + offset."""

    scale: tuple[float, float, float]
    offset: tuple[float, float, float]

    @classmethod
    def identity(cls) -> "Transfer":
        return cls((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))

    @classmethod
    def reinhard(cls, src: LabStats, ref: LabStats, *, strength: float = 1.0,
                 max_gain: float = 2.0) -> "Transfer":
        """The map taking ``src``'s mean/spread to ``ref``'s (gain clamped to 1/max_gain..max_gain),
        blended with the identity by ``strength`` (0 = no change, 1 = full match)."""
        scale, offset = [], []
        for ms, ss, mr, sr in zip(src.mean, src.std, ref.mean, ref.std):
            g = sr / ss if ss > 1e-6 else 1.0
            g = min(max(g, 1.0 / max_gain), max_gain)
            g = 1.0 + strength * (g - 1.0)
            o = strength * mr + (1.0 - strength) * ms - ms * g
            # with strength 1: o = mr - ms*g  (mean maps exactly onto the reference mean)
            scale.append(float(g))
            offset.append(float(o))
        return cls(tuple(scale), tuple(offset))

    def apply_lab(self, lab: np.ndarray) -> np.ndarray:
        out = lab * np.asarray(self.scale) + np.asarray(self.offset)
        out[..., 0] = np.clip(out[..., 0], 0.0, 100.0)
        return out

    def apply_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 sRGB image -> corrected uint8 sRGB image."""
        out = lab_to_srgb(self.apply_lab(srgb_to_lab(rgb)))
        return np.round(out * 255.0).astype(np.uint8)

    def to_dict(self) -> dict:
        return {"scale": [round(v, 5) for v in self.scale], "offset": [round(v, 4) for v in self.offset]}


def write_cube(path, transfer: Transfer, *, size: int = 33, title: str = "chainer drift match") -> None:
    """Bake ``transfer`` into an Adobe/Resolve ``.cube`` 3D LUT (sRGB in, sRGB out, red fastest)."""
    g = np.linspace(0.0, 1.0, size)
    b, gg, r = np.meshgrid(g, g, g, indexing="ij")   # blue slowest, red fastest
    rgb = np.stack([r, gg, b], axis=-1).reshape(-1, 3)
    out = lab_to_srgb(transfer.apply_lab(srgb_to_lab(rgb)))
    lines = [f'TITLE "{title}"', f"LUT_3D_SIZE {size}", "DOMAIN_MIN 0.0 0.0 0.0",
             "DOMAIN_MAX 1.0 1.0 1.0"]
    body = ("%.6f %.6f %.6f\n" * len(out)) % tuple(out.ravel().tolist())
    with open(path, "w", encoding="ascii") as fh:
        fh.write("\n".join(lines) + "\n" + body)


# ---- similarity -----------------------------------------------------------------------------------

def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of the same shape (inf when identical)."""
    if a.dtype == np.uint8 and b.dtype == np.uint8:
        # exact integer squared error, no float64 copies of the frames
        d = np.subtract(a, b, dtype=np.int16)
        mse = float(np.square(d, dtype=np.int32).sum(dtype=np.int64)) / d.size
    else:
        mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


def _luma(img: np.ndarray) -> np.ndarray:
    x = img.astype(np.float64)
    return x if x.ndim == 2 else x @ np.array([0.299, 0.587, 0.114])


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)² window, valid region only (separable running sums: 2·2r adds of
    shifted views, no large cumulative sums)."""
    k = 2 * r + 1
    h, w = x.shape
    if h < k or w < k:
        return np.empty((max(0, h - k + 1), max(0, w - k + 1)))
    v = x[:h - k + 1].copy()
    for i in range(1, k):
        v += x[i:h - k + 1 + i]
    out = v[:, :w - k + 1].copy()
    for i in range(1, k):
        out += v[:, i:w - k + 1 + i]
    out /= k * k
    return out


def _ssim_map(x: np.ndarray, y: np.ndarray, radius: int) -> np.ndarray:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _box(x, radius), _box(y, radius)
    sxx = _box(x * x, radius) - mx * mx
    syy = _box(y * y, radius) - my * my
    sxy = _box(x * y, radius) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def ssim(a: np.ndarray, b: np.ndarray, *, radius: int = 3, band: int = 64) -> float:
    """Mean SSIM on luma with a (2·radius+1)² box window (Wang et al. constants).

    Computed in horizontal bands of ``band`` output rows (the same windows and the same mean),
    so the float64 temporaries stay a few hundred KB whatever the frame size."""
    k = 2 * radius + 1
    rows = a.shape[0] - k + 1
    if rows <= 0 or a.shape[1] < k:
        return float("nan")
    total, count = 0.0, 0
    for r0 in range(0, rows, band):
        r1 = min(r0 + band, rows)
        m = _ssim_map(_luma(a[r0:r1 + k - 1]), _luma(b[r0:r1 + k - 1]), radius)
        total += float(m.sum())
        count += m.size
    return total / count
