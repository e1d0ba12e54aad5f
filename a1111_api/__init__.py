"""AUTOMATIC1111's HTTP API (with sd-webui-controlnet's routes) on this studio's engine, queue and login, so the
scripts and plugins artists already have (the `webuiapi` client, Krita and Photoshop plugins, bots) drive it unchanged.
FastAPI routes mounted on the server gradio already runs (`python app.py --api`); no model logic here."""

from a1111_api.routes import ApiSettings, mount_a1111_api

__all__ = ["ApiSettings", "mount_a1111_api"]
