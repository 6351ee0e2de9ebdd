"""Stride's web server: `create_app()` and a command line to run it.

`python server.py [--port N] [--setup-demo]` serves the app on http://127.0.0.1:5000.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from flask import Flask, render_template_string

ROOT = Path(__file__).resolve().parent

_INDEX = """<!doctype html><title>Stride</title>
<h1>Stride problem bank</h1>
<ul>{% for name in names %}<li>{{ name }}</li>{% else %}<li>No problems yet.</li>{% endfor %}</ul>
"""


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask application."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SECRET_KEY="dev", PROBLEMS_DIR=str(ROOT / "problems"))
    if test_config:
        app.config.update(test_config)

    @app.get("/")
    def index() -> str:
        names = sorted(p.stem for p in Path(app.config["PROBLEMS_DIR"]).glob("*.yaml"))
        return render_template_string(_INDEX, names=names)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--setup-demo", action="store_true", help="prepare the demo course first")
    args = parser.parse_args(argv)
    app = create_app()
    print(f"Stride is running on http://{args.host}:{args.port}/", flush=True)
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
