"""One frozen Settings object, built once from environment variables and CLI flags, then passed down.

Nothing here reads files or the network at import time; `Settings.from_env()` is called by the faces
(CLI, app) and the result is handed to everything below them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["FUSIONS", "LLM_BACKENDS", "LLM_SIZES", "TORCH_DTYPES", "Settings", "normalize_chroma_url"]

FUSIONS = ("early", "mid", "late")  # text + image strategies, see daogou/tools/fusion.py
TORCH_DTYPES = ("auto", "bfloat16", "float32")  # see daogou/llm/torch_dtype.py
# chat engines (daogou/llm/backends.py): embedded llama.cpp (default), the transformers reference, an
# OpenAI-compatible server, or none (fixed sentences only)
LLM_BACKENDS = ("llama", "transformers", "openai", "none")
LLM_ALIASES = {"local": "llama", "llama.cpp": "llama", "llamacpp": "llama"}  # "local" was the in-process default
LLM_SIZES = ("0.5b", "1.5b")  # bundled models (daogou/llm/provision.py); 1.5b needs the llm-1-5b extra


def _default_home() -> Path:
    return Path(os.environ.get("DAOGOU_HOME") or Path.home() / ".daogou")


@dataclass(frozen=True)
class Settings:
    """Every knob of daogou in one place. Build with `Settings.from_env(**overrides)`."""

    home: Path = field(default_factory=_default_home)  # models cache, default store, sessions
    store_dir: Path | None = None  # embedded Chroma folder; None -> <home>/store
    models_path: Path | None = None  # assembled/converted models; None -> <home>/models
    # A Chroma server (http://host:port, or https://...) instead of the folder: the store becomes a chromadb
    # HttpClient. DAOGOU_CHROMA_URL / --chroma-url; DAOGOU_CHROMA_HOST (+ DAOGOU_CHROMA_PORT, default 8000) map here.
    chroma_url: str | None = None
    ephemeral: bool = False  # in-memory Chroma (tests)
    collection_prefix: str = "daogou"  # collections are <prefix>_text and <prefix>_image
    batch_size: int = 256  # products embedded and written per ingest batch (bench: batch 64 writes 2.5x slower)
    max_image_pixels: int = 40_000_000  # images larger than this are refused (decompression bombs)
    max_image_bytes: int = 20 * 1024 * 1024  # image files larger than this are refused
    # The shop's currency (ISO code), given to catalog rows that state none (a Shopify export never does);
    # None -> CNY, and the ingest warns. DAOGOU_CURRENCY or `daogou ingest --currency`.
    currency: str | None = None
    # Folders, besides each catalog file's own folder, that catalog image paths may point into (absolute paths,
    # "..", symlinks); any other path is refused at ingest. DAOGOU_IMAGE_ROOTS, separated by os.pathsep (":").
    image_roots: tuple[Path, ...] = ()
    search_k: int = 10  # default number of results
    threads: int = 2  # torch threads
    # dtype of the torch path (transformers reference, `daogou tune`): "auto" = bfloat16 where the CPU has bf16
    # instructions, else float32 (emulated bf16 is ~66x slower: daogou/llm/torch_dtype.py); DAOGOU_TORCH_DTYPE
    torch_dtype: str = "auto"
    llm: str = "llama"  # chat engine, one of LLM_BACKENDS (DAOGOU_LLM)
    llm_size: str = "0.5b"  # bundled model, one of LLM_SIZES (DAOGOU_LLM_SIZE)
    # DAOGOU_LLM_PATH: a .gguf file for llm="llama", a transformers folder for llm="transformers"; None -> bundled
    llm_path: Path | None = None
    llm_threads: int | None = None  # llama.cpp threads; None -> the cores this process may run on
    # concurrent replies the llama.cpp engine decodes together; more wait in its queue. 1 measured best on 2 cores
    # (bench/llm_bench.py --concurrency): a second slot splits the same cores and slows the first reply.
    llm_slots: int = 1
    llm_ctx: int = 4096  # context (prompt + reply tokens) per slot
    llm_base_url: str | None = None  # OpenAI-compatible server (vLLM, llama.cpp server, Ollama) when llm="openai"
    llm_model: str = "qwen2.5"  # model name sent to that server
    llm_api_key: str | None = None  # that server's key (DAOGOU_LLM_API_KEY); None -> no Authorization header
    llm_timeout: float = 60.0  # seconds a request to that server may take before it is given up
    copy_adapter: Path | None = None  # LoRA adapter of `daogou tune copy` for product copy (DAOGOU_COPY_ADAPTER)
    shop_name: str = "本店"  # how the assistant names the shop
    # How text and image are combined in search and "like this one": early, mid or late (daogou/tools/fusion.py).
    # mid won photo queries and like-this-one in `daogou eval fusion` (README); until `daogou tune align` has
    # trained its head on the catalog it acts as late, and the trace says so.
    fusion: str = "mid"
    # Who reads a turn: "model" (the local model reads every turn into a checked reading, see agent/reading.py:
    # combine; about a second per turn on 2 cores) or "rules" (the deterministic reading alone, as with --no-llm).
    reader: str = "model"
    ui_lang: str = "zh"  # language of the web widget's own words: "zh" or "en" (replies follow the shopper)
    ui_allowed_origins: tuple[str, ...] = ()  # sites that may embed the widget (iframe / web component); () = same host
    ui_root_path: str = ""  # sub-path the app is served under, e.g. "/shop/assistant" ("" = at /)
    ui_max_upload_bytes: int = 8 * 1024 * 1024  # largest photo a shopper may upload
    ui_keep_session: bool = True  # a reload keeps the conversation (session id in the browser's localStorage)
    # `daogou serve` security and load limits (README "Security and limits"):
    api_key: str | None = None  # DAOGOU_API_KEY: every request must carry it (X-Api-Key or Authorization: Bearer)
    ui_rate_per_min: float = 30.0  # turns (and photo uploads) one client address may start a minute; 0 = no limit
    ui_rate_burst: int = 10  # of those, how many at once before the per-minute rate applies
    ui_queue_size: int = 64  # turns admitted at once (running + waiting); more get a friendly "busy" reply
    # turns that run at once: their searches and cards go ahead while the model writes one reply at a time (a
    # load of 20 shoppers with 4 at once kept 16 waiting for a slot, cards included, behind the model)
    ui_turns_at_once: int = 16
    ui_queue_wait_s: float = 120.0  # longest a turn waits for its turn before the "busy" reply
    ui_max_message_chars: int = 2000  # longer messages are refused with the limit (the text stays in the box)
    ui_max_upload_pixels: int = 16_000_000  # photos over this many pixels are refused (a 12 MP phone photo passes)
    ui_upload_ttl_s: int = 600  # uploaded photos not used within this long are deleted (every minute)
    ui_uploads_max_bytes: int = 256 * 1024 * 1024  # the uploads folder's cap; the oldest files go first

    @property
    def resolved_store_dir(self) -> Path:
        """Folder of the embedded persistent Chroma store."""
        return self.store_dir if self.store_dir is not None else self.home / "store"

    @property
    def models_dir(self) -> Path:
        """Folder of assembled / converted model files."""
        return self.models_path if self.models_path is not None else self.home / "models"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read `DAOGOU_*` environment variables, then apply non-None keyword overrides (CLI flags)."""
        env = os.environ
        values: dict[str, object] = {}
        if env.get("DAOGOU_HOME"):
            values["home"] = Path(env["DAOGOU_HOME"])
        if env.get("DAOGOU_STORE"):
            values["store_dir"] = Path(env["DAOGOU_STORE"])
        url = _chroma_url_env(env)
        if url:
            values["chroma_url"] = url
        if env.get("DAOGOU_BATCH_SIZE"):
            values["batch_size"] = _int_env("DAOGOU_BATCH_SIZE", env["DAOGOU_BATCH_SIZE"])
        for key, var in (("llm_base_url", "DAOGOU_LLM_BASE_URL"), ("llm_model", "DAOGOU_LLM_MODEL"),
                         ("llm_api_key", "DAOGOU_LLM_API_KEY"), ("shop_name", "DAOGOU_SHOP_NAME")):
            if env.get(var):
                values[key] = env[var]
        for key, var in (("llm", "DAOGOU_LLM"), ("llm_size", "DAOGOU_LLM_SIZE")):
            if env.get(var):
                values[key] = env[var].strip().lower()
        for key, var in (("llm_threads", "DAOGOU_LLM_THREADS"), ("llm_slots", "DAOGOU_LLM_SLOTS"),
                         ("llm_ctx", "DAOGOU_LLM_CTX")):
            if env.get(var):
                values[key] = _int_env(var, env[var])
        if env.get("DAOGOU_LLM_TIMEOUT"):
            values["llm_timeout"] = _float_env("DAOGOU_LLM_TIMEOUT", env["DAOGOU_LLM_TIMEOUT"])
        if env.get("DAOGOU_MODELS"):
            values["models_path"] = Path(env["DAOGOU_MODELS"])
        if env.get("DAOGOU_LLM_PATH"):
            values["llm_path"] = Path(env["DAOGOU_LLM_PATH"])
        if env.get("DAOGOU_COPY_ADAPTER"):
            values["copy_adapter"] = Path(env["DAOGOU_COPY_ADAPTER"])
        if env.get("DAOGOU_FUSION"):
            values["fusion"] = env["DAOGOU_FUSION"].strip().lower()
        if env.get("DAOGOU_READER"):
            values["reader"] = env["DAOGOU_READER"].strip().lower()
        if env.get("DAOGOU_THREADS"):
            values["threads"] = _int_env("DAOGOU_THREADS", env["DAOGOU_THREADS"])
        if env.get("DAOGOU_TORCH_DTYPE"):
            values["torch_dtype"] = env["DAOGOU_TORCH_DTYPE"].strip().lower()
        if env.get("DAOGOU_CURRENCY"):
            values["currency"] = env["DAOGOU_CURRENCY"]
        if env.get("DAOGOU_IMAGE_ROOTS"):
            values["image_roots"] = tuple(Path(p) for p in env["DAOGOU_IMAGE_ROOTS"].split(os.pathsep) if p.strip())
        values.update(_ui_env(env))
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("chroma_url"):
            values["chroma_url"] = normalize_chroma_url(str(values["chroma_url"]))
        if isinstance(values.get("store_dir"), str):
            values["store_dir"] = Path(values["store_dir"])  # type: ignore[arg-type]
        if values.get("currency") is not None:
            code = str(values["currency"]).strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"currency {values['currency']!r} (--currency / DAOGOU_CURRENCY) is not a 3-letter "
                                 "ISO code; use one such as USD, EUR or CNY")
            values["currency"] = code
        values.update(_check_llm(values))
        if values.get("reader", "model") not in ("rules", "model"):
            raise ValueError(f"DAOGOU_READER={values['reader']!r} is not one of model, rules")
        if values.get("torch_dtype", "auto") not in TORCH_DTYPES:
            raise ValueError(f"DAOGOU_TORCH_DTYPE={values['torch_dtype']!r} is not one of {', '.join(TORCH_DTYPES)}; "
                             "set one of them or unset it (auto)")
        if values.get("fusion", "mid") not in FUSIONS:
            raise ValueError(f"DAOGOU_FUSION={values['fusion']!r} is not one of {', '.join(FUSIONS)}; "
                             "set one of them or unset it")
        if values.get("ui_lang", "zh") not in ("zh", "en"):
            raise ValueError(f"DAOGOU_UI_LANG={values['ui_lang']!r} is not one of zh, en")
        root = str(values.get("ui_root_path", "") or "").rstrip("/")
        if root and not root.startswith("/"):
            raise ValueError(f"DAOGOU_UI_ROOT_PATH={root!r} must start with '/', e.g. /shop/assistant")
        values["ui_root_path"] = root
        key = values.get("api_key")
        if key is not None and (len(str(key)) < 16 or any(c.isspace() for c in str(key))):
            raise ValueError("the API key (DAOGOU_API_KEY or --api-key-file) must be at least 16 characters without "
                             "spaces; make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        for name in ("ui_queue_size", "ui_turns_at_once", "ui_max_message_chars", "ui_max_upload_pixels",
                     "ui_rate_burst"):
            if int(values.get(name, 1)) < 1:  # type: ignore[call-overload]
                raise ValueError(f"DAOGOU_{name.upper()}={values[name]!r} must be at least 1")
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _ui_env(env: os._Environ[str] | dict[str, str]) -> dict[str, object]:
    """The web widget's settings from DAOGOU_UI_* variables."""
    values: dict[str, object] = {}
    if env.get("DAOGOU_UI_LANG"):
        values["ui_lang"] = env["DAOGOU_UI_LANG"].strip().lower()
    if env.get("DAOGOU_UI_ORIGINS"):
        values["ui_allowed_origins"] = tuple(o.strip().rstrip("/") for o in env["DAOGOU_UI_ORIGINS"].split(",")
                                             if o.strip())
    if env.get("DAOGOU_UI_ROOT_PATH"):
        values["ui_root_path"] = env["DAOGOU_UI_ROOT_PATH"]
    if env.get("DAOGOU_UI_MAX_UPLOAD_BYTES"):
        values["ui_max_upload_bytes"] = _int_env("DAOGOU_UI_MAX_UPLOAD_BYTES", env["DAOGOU_UI_MAX_UPLOAD_BYTES"])
    if env.get("DAOGOU_API_KEY"):
        values["api_key"] = env["DAOGOU_API_KEY"].strip()
    for key, var, kind in (("ui_rate_per_min", "DAOGOU_UI_RATE_PER_MIN", float),
                           ("ui_rate_burst", "DAOGOU_UI_RATE_BURST", int),
                           ("ui_queue_size", "DAOGOU_UI_QUEUE_SIZE", int),
                           ("ui_turns_at_once", "DAOGOU_UI_TURNS_AT_ONCE", int),
                           ("ui_queue_wait_s", "DAOGOU_UI_QUEUE_WAIT_S", float),
                           ("ui_max_message_chars", "DAOGOU_UI_MAX_MESSAGE_CHARS", int),
                           ("ui_max_upload_pixels", "DAOGOU_UI_MAX_UPLOAD_PIXELS", int),
                           ("ui_upload_ttl_s", "DAOGOU_UI_UPLOAD_TTL_S", int),
                           ("ui_uploads_max_bytes", "DAOGOU_UI_UPLOADS_MAX_BYTES", int)):
        if env.get(var):
            values[key] = _int_env(var, env[var]) if kind is int else _float_env(var, env[var])
    if env.get("DAOGOU_UI_KEEP_SESSION"):
        raw = env["DAOGOU_UI_KEEP_SESSION"].strip().lower()
        if raw not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"DAOGOU_UI_KEEP_SESSION={raw!r} is not a yes/no value; use 1 or 0")
        values["ui_keep_session"] = raw in ("1", "true", "yes")
    return values


def normalize_chroma_url(raw: str) -> str:
    """'http(s)://HOST:PORT', checked; 'HOST:PORT' or 'HOST' get http://, a missing port Chroma's 8000 (443 for
    https)."""
    url = raw.strip()
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8000)
    except ValueError as e:
        raise ValueError(f"Chroma server URL {raw!r} has a bad port; write it as http://HOST:PORT, "
                         "e.g. http://127.0.0.1:8000") from e
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
        raise ValueError(f"Chroma server URL {raw!r} is not http(s)://HOST[:PORT] (no path); "
                         "e.g. DAOGOU_CHROMA_URL=http://127.0.0.1:8000")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def _chroma_url_env(env: os._Environ[str] | dict[str, str]) -> str | None:
    """DAOGOU_CHROMA_URL, or the older DAOGOU_CHROMA_HOST (+ DAOGOU_CHROMA_PORT) mapped onto a URL."""
    url, host, port = env.get("DAOGOU_CHROMA_URL"), env.get("DAOGOU_CHROMA_HOST"), env.get("DAOGOU_CHROMA_PORT")
    if port and not host:
        raise ValueError(f"DAOGOU_CHROMA_PORT={port!r} is set without DAOGOU_CHROMA_HOST; "
                         "set DAOGOU_CHROMA_URL=http://HOST:PORT instead")
    if not host:
        return url or None
    mapped = f"http://{host}:{_int_env('DAOGOU_CHROMA_PORT', port) if port else 8000}"
    if url and normalize_chroma_url(url) != normalize_chroma_url(mapped):
        raise ValueError(f"DAOGOU_CHROMA_URL={url!r} and DAOGOU_CHROMA_HOST/PORT ({mapped}) name different "
                         "servers; unset DAOGOU_CHROMA_HOST and DAOGOU_CHROMA_PORT")
    return url or mapped


def _check_llm(values: dict[str, object]) -> dict[str, object]:
    """The chat-engine settings checked (old names mapped), each bad value named with the valid ones."""
    out: dict[str, object] = {}
    llm = str(values.get("llm", "llama"))
    out["llm"] = LLM_ALIASES.get(llm, llm)
    if out["llm"] not in LLM_BACKENDS:
        raise ValueError(f"DAOGOU_LLM={llm!r} is not one of {', '.join(LLM_BACKENDS)} (llama: the embedded "
                         "llama.cpp engine, the default); set one of them or unset it")
    size = str(values.get("llm_size", "0.5b"))
    if size not in LLM_SIZES:
        raise ValueError(f"DAOGOU_LLM_SIZE={size!r} is not one of {', '.join(LLM_SIZES)}; set one of them or unset it")
    for key, var, low in (("llm_threads", "DAOGOU_LLM_THREADS", 1), ("llm_slots", "DAOGOU_LLM_SLOTS", 1),
                          ("llm_ctx", "DAOGOU_LLM_CTX", 256)):
        value = values.get(key)
        if value is not None and int(value) < low:  # type: ignore[call-overload]
            raise ValueError(f"{var}={value} must be at least {low}; raise it or unset it")
    if float(values.get("llm_timeout", 60.0)) <= 0:  # type: ignore[arg-type]
        raise ValueError(f"DAOGOU_LLM_TIMEOUT={values['llm_timeout']} must be a positive number of seconds")
    return out


def _int_env(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as e:
        raise ValueError(f"{name}={raw!r} is not an integer; set it to a whole number or unset it") from e


def _float_env(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError as e:
        raise ValueError(f"{name}={raw!r} is not a number; set it to a number (e.g. 30) or unset it") from e
    if value != value or value < 0:
        raise ValueError(f"{name}={raw!r} must be a number >= 0")
    return value
