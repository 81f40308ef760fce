"""Hashing-trick text encoder and colour-histogram image encoder: fast, deterministic, similarity-preserving."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from PIL import Image


def _grams(text: str) -> list[str]:
    t = text.lower().replace(" ", "")
    return list(t) + [t[i:i + 2] for i in range(len(t) - 1)]


class FakeTextEncoder:
    model_id = "fake-hash-text"
    fingerprint = "fake-hash-text-v1"
    dim = 64

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for r, text in enumerate(texts):
            for g in _grams(text):
                h = int(hashlib.md5(g.encode()).hexdigest()[:8], 16)
                out[r, h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
            n = np.linalg.norm(out[r])
            out[r] = out[r] / n if n else np.eye(self.dim, dtype=np.float32)[0]
        return out

    embed_queries = _embed
    embed_passages = _embed


class FakeImageEncoder:
    model_id = "fake-colour-hist"
    fingerprint = "fake-colour-hist-v1"
    dim = 24

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        out = []
        for img in images:
            a = np.asarray(img.convert("RGB").resize((32, 32)), dtype=np.float32) / 255.0
            hist = np.concatenate([np.histogram(a[..., c], bins=8, range=(0, 1))[0] for c in range(3)])
            hist = hist.astype(np.float32)
            out.append(hist / (np.linalg.norm(hist) or 1.0))
        return np.stack(out) if out else np.zeros((0, self.dim), dtype=np.float32)
