"""Errors a performer can cause. Each message says what to do next."""


class HootError(Exception):
    """Base of every error hoot raises on purpose; the console shows it in one line."""


class EngineError(HootError):
    """The sound server refused a command, or cannot be reached."""


class StemError(HootError):
    """A stem file is missing, corrupt or unusable."""


class DeviceError(HootError):
    """An audio device (or PortAudio itself) is not usable."""


class EngineLost(EngineError):
    """The connection to the engine broke: its process died or closed the socket. The stage
    starts a new engine for the session when it sees this."""
