"""The real-time model layer: models that answer a performer within one audio block.

Each running model lives in a process of its own beside the engine (torch is imported only
there, never in the engine, the stage or the screen), reads the keys the engine hears and
writes its notes back through shared memory. `notochord` is the model: a reimplementation
of Notochord (Shepardson et al., 2022) that loads the official trainer checkpoints, and
hoot's own small one trained on Bach chorales (models/train_notochord.py). `layer` and
`status` are the language side (the supervisor and what the screen shows), `voice` the
model's process, `harmonize` and `improvise` the music, `score` what the stems play.

Nothing is imported here, so that importing `hoot.realtime.layer` never pulls in torch.
"""
