"""`python -m daogou.llm.server`: the bundled chat model as a llama.cpp HTTP server, for scale-out.

One machine runs the model; any number of `daogou serve` processes point at it with `DAOGOU_LLM=openai`,
`DAOGOU_LLM_BASE_URL=http://HOST:PORT/v1` and `DAOGOU_LLM_API_KEY`. It is llama.cpp's own server (the routes
`/v1/chat/completions`, `/v1/completions`, `/health`, `/metrics`), started in-process by the xllamacpp binding on
the same verified GGUF the embedded engine runs, with `DAOGOU_LLM_SLOTS` concurrent replies.

    python -m daogou.llm.server --port 8080 --api-key "$KEY"          # DAOGOU_LLM_SIZE picks the model
    python -m daogou.llm.server --host 0.0.0.0 --port 8080            # refused: a public bind needs a key

The server runs until SIGINT or SIGTERM. Without `--api-key` (or DAOGOU_LLM_SERVER_KEY) it binds only to a
loopback address; a public interface without a key is refused unless `--no-key-on-public` waives it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import threading

from daogou.llm.llama_engine import available_cores
from daogou.llm.provision import llm_gguf_path
from daogou.model_files import ModelError, force_offline
from daogou.settings import Settings

__all__ = ["main", "serve"]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(settings: Settings, host: str, port: int, api_key: str | None, *, stop: threading.Event) -> None:
    """Start llama.cpp's server on `host:port` over the configured bundled model; return when `stop` is set."""
    import xllamacpp as xlc

    force_offline()
    gguf = settings.llm_path or llm_gguf_path(settings)
    p = xlc.CommonParams()
    p.model.path = str(gguf)
    p.n_parallel = settings.llm_slots
    p.n_ctx = settings.llm_slots * settings.llm_ctx
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = settings.llm_threads or available_cores()
    p.hostnames, p.port = [host], port
    p.api_keys = [api_key] if api_key else []
    p.ui = False  # no web UI; the API only
    p.endpoint_metrics = True
    p.endpoint_slots = False
    p.warmup = False
    p.verbosity = -1
    try:
        server = xlc.Server(p)
    except (RuntimeError, ValueError) as e:
        raise ModelError(f"llama.cpp could not start on {host}:{port} with {gguf}: {e}. Fix: choose a free port "
                         "and check the model file (`daogou models`)") from e
    print(f"llama.cpp server ({gguf.name}) listening on {server.listening_address} "
          f"({'key required' if api_key else 'no key'}); base URL {server.listening_address}/v1", flush=True)
    stop.wait()
    del server


def main(argv: list[str] | None = None) -> None:
    """Parse flags, refuse an open public bind, serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m daogou.llm.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    parser.add_argument("--api-key", default=os.environ.get("DAOGOU_LLM_SERVER_KEY"),
                        help="key clients must send (Authorization: Bearer KEY); default $DAOGOU_LLM_SERVER_KEY")
    parser.add_argument("--no-key-on-public", action="store_true",
                        help="allow a non-loopback --host without a key (not recommended)")
    args = parser.parse_args(argv)
    if not args.api_key and not _loopback(args.host) and not args.no_key_on_public:
        parser.error(f"--host {args.host} is not a loopback address: set --api-key (or DAOGOU_LLM_SERVER_KEY), "
                     "or pass --no-key-on-public to waive it")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve(Settings.from_env(), args.host, args.port, args.api_key, stop=stop)
    except (ModelError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from e


if __name__ == "__main__":
    main()
