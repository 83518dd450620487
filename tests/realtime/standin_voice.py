"""The real voice process (hoot/realtime/voice.py) with the seeded stand-in model
(tests/realtime/standin.py) in place of a checkpoint: what it reads, follows and writes is
the voice's own, so a live test exercises the layer, the score and the note table while
the model (hoot/realtime/notochord.py) is tested on its own."""

import sys

from hoot.realtime import voice
from tests.realtime.standin import StandIn

voice._load = lambda start: StandIn(seed=12, hoot_meta={"player_inst": 1, "voice_insts": [49]})
sys.exit(voice.main())
