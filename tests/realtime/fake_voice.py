"""A stand-in voice process speaking the layer's protocol (hoot/realtime/voice.py) without
a model: it beats every 50 ms and echoes its settings, and its start command's
settings["fake"] says how it misbehaves: "crash" dies soon after starting, "error" gives
up with a sentence, anything else plays on until told to stop."""

import json
import os
import sys
import threading
import time

start = json.loads(sys.stdin.readline())
settings = dict(start.get("settings", {}))
mode = settings.get("fake", "ok")
stop = threading.Event()


def read() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "set":
            settings.update({k: v for k, v in command.items() if k != "cmd"})
        elif command["cmd"] == "stop":
            stop.set()
    stop.set()


threading.Thread(target=read, daemon=True).start()
if mode == "error":
    print(json.dumps({"state": "failed", "error": "no model at nowhere.ckpt"}), flush=True)
    sys.exit(2)
born = time.monotonic()
while not stop.wait(0.05):
    status = {
        "state": "running",
        "p50_ms": 1.5,
        "p95_ms": 2.5,
        "playing": [60, 64],
        "late": 1,
        "settings": settings,
        "pid": os.getpid(),
    }
    print(json.dumps(status), flush=True)
    if mode == "crash" and time.monotonic() - born > 0.2:
        os.abort()
