"""Orpheus, the music transformer: its tokens, checkpoints and batched decoding (issue 14)."""
