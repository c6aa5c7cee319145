"""Side by side with anomalib's PatchCore (docs/benchmarks.md): drivers of the peer's own virtual environment.

The peer (../shared/peer/SETUP.md) lives outside the repository; nothing here imports anomalib. ``subset`` lays out
the test images evaluate scores, ``accuracy`` runs the peer's harness on them, ``latency`` interleaves the two
latency benchmarks on the same frames.
"""
