"""Orpheus Music Transformer in hoot: its token format (`tokens`, numpy and mido only), the
model and its batched decoder (torch, worker processes only) and the generator that answers
a batch of requests with one warm model."""
