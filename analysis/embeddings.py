"""Image embeddings of MR magnitude slices: a CLIP image encoder from local weights, a
weight-free fallback, and an on-disk cache.

**CLIP** (:class:`CLIPImageEncoder`): Hugging Face ``transformers``'
``CLIPVisionModelWithProjection`` loaded from a local directory (or a file inside one) with
``local_files_only=True``, so nothing is downloaded; the path comes from ``--clip PATH`` or
the ``MRI_STUDY_CLIP`` environment variable (:func:`resolve_encoder`). A directory saved from a
full ``CLIPModel`` (vision and text towers) works too: its vision tower and projection are
used. Preprocessing is the encoder's own ``CLIPImageProcessor`` (resize, centre crop,
normalise) read from the directory's ``preprocessor_config.json``, or built from the model's
image size and CLIP's published channel mean/std when the directory has none.

**Input images**: each magnitude slice (the volume's ``reconstruction_rss``, or the RSS of its
k-space when the file has none) is windowed to ``[0, p99.5]`` (its 99.5th percentile), scaled
to [0, 1], then to 8-bit and repeated to 3 channels.

**Weight-free fallback** (:class:`WeightFreeEncoder`): the windowed slice area-averaged to
16 x 16, flattened and mean-centred; it is named as such on every table and figure, so a
reader never mistakes it for CLIP.

Every embedding is L2-normalised, so a dot product is a cosine similarity.

**Cache**: ``<cache root>/embeddings/<encoder key>/<file>-<hash>.npz`` holds the slice indices
and embeddings of one volume; the hash covers the file's path, size and modification time and
the encoder key covers its weights, so a changed file or model never reuses stale vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

ENV_VAR = "MRI_STUDY_CLIP"
WINDOW_PERCENTILE = 99.5
WEIGHT_FREE_SIZE = 16
_FINGERPRINT_BYTES = 4 << 20


class ImageEncoder(Protocol):
    """What the similarity analysis needs from an encoder."""

    name: str  # human-readable, shown on figures
    key: str  # file-system safe identity of the encoder and its weights (cache key)

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Unit-norm float32 embeddings ``[n, d]`` of ``n`` magnitude images ``[h, w]``."""
        ...


def window(image: np.ndarray, percentile: float = WINDOW_PERCENTILE) -> np.ndarray:
    """Magnitude ``[h, w]`` -> float32 in [0, 1]: ``clip(|x|, 0, p) / p`` with ``p`` the
    image's ``percentile``-th percentile (all zeros when ``p`` is 0 or not finite)."""
    magnitude = np.abs(np.asarray(image, dtype=np.float32))
    top = float(np.percentile(magnitude, percentile)) if magnitude.size else 0.0
    if not np.isfinite(top) or top <= 0:
        return np.zeros_like(magnitude)
    return np.clip(magnitude, 0.0, top) / top


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Windowed ``[h, w]`` magnitude -> ``[h, w, 3]`` uint8 (the same value in each channel)."""
    scaled = np.round(window(image) * 255.0).astype(np.uint8)
    return np.repeat(scaled[:, :, None], 3, axis=2)


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


class WeightFreeEncoder:
    """Weight-free stand-in for CLIP: windowed image, area-averaged to ``size x size``,
    flattened, mean-centred, unit norm (cosine similarity = correlation of the thumbnails)."""

    def __init__(self, size: int = WEIGHT_FREE_SIZE, reason: str = "no CLIP weights found"):
        self.size = int(size)
        self.name = (f"weight-free: {self.size}x{self.size} downsampled image, mean-centred "
                     f"({reason})")
        self.key = f"weightfree-{self.size}px-v1"

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embeddings ``[n, size * size]``."""
        if not len(images):
            return np.zeros((0, self.size * self.size), np.float32)
        import torch

        rows = []
        for image in images:
            x = torch.from_numpy(window(image))[None, None]
            thumb = torch.nn.functional.adaptive_avg_pool2d(x, self.size).flatten().numpy()
            rows.append(thumb - thumb.mean())
        return normalise_rows(np.stack(rows))


class CLIPImageEncoder:
    """CLIP image tower with projection from a local directory (see the module docstring).

    Args:
        path: a directory with ``config.json`` and the weights, or a file inside one.
        batch_size: images per forward pass.
        device: torch device for the forward pass.

    Raises:
        FileNotFoundError: ``path`` does not exist or has no ``config.json``.
    """

    def __init__(self, path: str | Path, batch_size: int = 32, device: str = "cpu"):
        from transformers import CLIPVisionModelWithProjection

        folder = _model_folder(Path(path).expanduser())
        config = _vision_config(folder)
        _quiet_transformers()
        self.model = CLIPVisionModelWithProjection.from_pretrained(
            folder, config=config, local_files_only=True
        ).to(device).eval()
        self.processor = _image_processor(folder, config.image_size)
        self.batch_size = int(batch_size)
        self.device = device
        self.dim = int(config.projection_dim)
        self.path = folder
        self.name = (f"CLIP image encoder '{folder.name}' (ViT, {config.image_size}px input, "
                     f"{self.dim}-d projection)")
        self.key = f"clip-{_fingerprint(folder)}"

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Unit-norm projected image embeddings ``[n, projection_dim]``."""
        import torch

        out = [np.zeros((0, self.dim), np.float32)]
        with torch.no_grad():
            for start in range(0, len(images), self.batch_size):
                batch = [to_rgb_uint8(im) for im in images[start : start + self.batch_size]]
                pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
                embeds = self.model(pixel_values=pixels.to(self.device)).image_embeds
                out.append(embeds.float().cpu().numpy())
        return normalise_rows(np.concatenate(out))


def _model_folder(path: Path) -> Path:
    """The directory holding the model: ``path`` itself, or the folder of a file in it."""
    if not path.exists():
        raise FileNotFoundError(f"CLIP weights: {path} does not exist (set --clip or "
                                f"{ENV_VAR} to a local CLIP model directory)")
    folder = path if path.is_dir() else path.parent
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"CLIP weights: {folder} has no config.json (expected a "
                                "directory saved with save_pretrained)")
    return folder


def _vision_config(folder: Path):
    """The vision config of the model in ``folder``; for a full CLIP model the vision part,
    with the top-level ``projection_dim`` (which the vision part does not repeat)."""
    from transformers import CLIPVisionConfig

    raw = json.loads((folder / "config.json").read_text())
    if raw.get("model_type") == "clip" and "vision_config" in raw:
        vision = dict(raw["vision_config"])
        vision.pop("model_type", None)
        if "projection_dim" in raw:
            vision["projection_dim"] = raw["projection_dim"]
        return CLIPVisionConfig(**vision)
    return CLIPVisionConfig.from_pretrained(folder, local_files_only=True)


def _image_processor(folder: Path, image_size: int):
    """The folder's CLIP image processor, or one built from the image size and CLIP's
    channel mean/std. Uses the PIL-backed processor, which needs no torchvision."""
    try:  # transformers >= 5 names the torchvision-free processor explicitly
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:  # pragma: no cover - transformers 4.x: the default one is PIL-based
        from transformers import CLIPImageProcessor as Processor
    if (folder / "preprocessor_config.json").is_file():
        return Processor.from_pretrained(folder, local_files_only=True)
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    return Processor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=list(OPENAI_CLIP_MEAN),
        image_std=list(OPENAI_CLIP_STD),
    )


def _quiet_transformers() -> None:
    """Silence transformers' load report (a full CLIP checkpoint lists its unused text tower)."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def _fingerprint(folder: Path) -> str:
    """Short hash of the model's config and weights (size plus first and last 4 MiB of each
    weight file), so two models with the same architecture get different cache keys."""
    digest = hashlib.sha256()
    for name in ("config.json", "preprocessor_config.json"):
        if (folder / name).is_file():
            digest.update((folder / name).read_bytes())
    weights = sorted(p for p in folder.iterdir()
                     if p.suffix in (".safetensors", ".bin", ".pt", ".pth"))
    for file in weights:
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with file.open("rb") as handle:
            digest.update(handle.read(_FINGERPRINT_BYTES))
            handle.seek(max(0, size - _FINGERPRINT_BYTES))
            digest.update(handle.read(_FINGERPRINT_BYTES))
    return digest.hexdigest()[:16]


def resolve_encoder(path: str | Path | None = None) -> ImageEncoder:
    """The encoder to use: CLIP from ``path``, else from ``$MRI_STUDY_CLIP``, else the
    weight-free fallback. A path that is given but unusable raises FileNotFoundError rather
    than falling back silently."""
    chosen = path or os.environ.get(ENV_VAR, "").strip() or None
    if chosen is None:
        return WeightFreeEncoder()
    return CLIPImageEncoder(chosen)


# ------------------------------------------------------------------ images and the cache
def read_magnitudes(path: str | Path, slices: Sequence[int]) -> list[np.ndarray]:
    """Magnitude images ``[h, w]`` of the given slices of one volume: the stored reference
    (``reconstruction_rss``), or the RSS of the inverse FFT of its k-space cropped to the
    header's reconstruction size when the file has no reference."""
    from mri.data.reader import kspace_from_handle, open_volume, read_header, target_from_handle

    path = Path(path)
    images = []
    with open_volume(path) as hf:
        for index in slices:
            target = target_from_handle(hf, path, int(index))
            if target is None:
                target = _rss_image(kspace_from_handle(hf, path, int(index)), read_header(path))
            images.append(np.asarray(target, np.float32))
    return images


def _rss_image(kspace: np.ndarray, info) -> np.ndarray:
    """RSS magnitude of one k-space slice, cropped to the reconstruction size."""
    import torch

    from mri.coils import complex_center_crop, rss
    from mri.fft import ifft2c

    image = ifft2c(torch.from_numpy(kspace))
    magnitude = rss(image, dim=0) if image.ndim == 3 else image.abs()
    h = min(info.recon_h, magnitude.shape[-2])
    w = min(info.recon_w, magnitude.shape[-1])
    return complex_center_crop(magnitude, (h, w)).numpy()


class EmbeddingCache:
    """Embeddings of volume slices by one encoder, computed once and kept on disk.

    ``root`` defaults to ``mri.data.cache.cache_root() / 'embeddings'``.
    """

    def __init__(self, encoder: ImageEncoder, root: str | Path | None = None):
        if root is None:
            from mri.data.cache import cache_root

            root = cache_root() / "embeddings"
        self.encoder = encoder
        self.folder = Path(root) / encoder.key
        self.computed = 0  # slices embedded (not read from the cache) by this object

    def volume(self, path: str | Path, slices: Sequence[int]) -> np.ndarray:
        """Embeddings ``[len(slices), d]`` of ``slices`` of the volume at ``path``."""
        path = Path(path)
        wanted = [int(s) for s in slices]
        file = self._file(path)
        known: dict[int, np.ndarray] = {}
        if file.is_file():
            with np.load(file) as stored:
                known = dict(zip(stored["slices"].tolist(), stored["embeddings"], strict=True))
        missing = sorted(set(wanted) - set(known))
        if missing:
            new = self.encoder.embed(read_magnitudes(path, missing))
            known.update(zip(missing, new, strict=True))
            self.computed += len(missing)
            self._save(file, known)
        if not wanted:
            return np.zeros((0, 0), np.float32)
        return np.stack([known[s] for s in wanted]).astype(np.float32)

    def _file(self, path: Path) -> Path:
        """Cache file of a volume (its name plus a hash of path, size and mtime)."""
        stat = path.stat()
        ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        digest = hashlib.sha1(ident.encode()).hexdigest()[:12]
        return self.folder / f"{path.stem}-{digest}.npz"

    def _save(self, file: Path, known: dict[int, np.ndarray]) -> None:
        """Write atomically (temporary file, then rename) so readers never see half a file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        order = sorted(known)
        handle, tmp = tempfile.mkstemp(dir=self.folder, suffix=".npz.tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, slices=np.asarray(order, np.int64),
                         embeddings=np.stack([known[s] for s in order]).astype(np.float32))
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
