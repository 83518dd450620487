# A starting groove: what a new session plays while you find your feet. Every line is one
# you can type yourself; change any of them, or start again with perf.panic().
perf.tempo = 122
perf.key = "D minor"
perf.chords = "i VI III VII"
perf.vibe(style="house")
drums = perf.generate("drums", n=6, seed=2024)
bass = perf.generate("bass", n=6, seed=2024)
chords = perf.generate("chords", n=6, seed=2024)
drums[1].queue(at="bar")  # each starts on the first bar after it is made
bass[1].queue(at="bar")
chords[1].queue(at="bar")
# next: F3/F4 and Alt+Left/Right pick other candidates, F8 queues one; perf.generate("lead")
