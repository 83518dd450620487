"""A stand-in audio voice (transfer, drone, echo) speaking the layer's protocol without a
model or torch: it beats every 50 ms with what an audio voice's heartbeat carries
(contract D: "latency_samples", "p50_ms", "p95_ms", "late", "level_db") and echoes what it
was told, so perf's side is tested on its own. Its declared latency is the number in its
model file's name ("slow-960.ts": 960 samples), else 256."""

import json
import os
import re
import sys
import threading
from pathlib import Path

start = json.loads(sys.stdin.readline())
settings = dict(start.get("settings", {}))
told: list[dict] = []
stop = threading.Event()
digits = re.findall(r"\d+", Path(start.get("model") or "").stem)
latency = int(digits[-1]) if digits else 256


def read() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        told.append(command)
        if command["cmd"] == "set":
            settings.update({k: v for k, v in command.items() if k != "cmd"})
        elif command["cmd"] == "stop":
            stop.set()
    stop.set()


threading.Thread(target=read, daemon=True).start()
while not stop.wait(0.05):
    status = {
        "state": "running",
        "p50_ms": 0.8,
        "p95_ms": 1.4,
        "late": 0,
        "latency_samples": latency,
        "level_db": -14.2,
        "settings": settings,
        "start": start,
        "told": told[-20:],
        "pid": os.getpid(),
    }
    print(json.dumps(status), flush=True)
