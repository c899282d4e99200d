"""Artifacts and supply chain: the manifest table, reproducible archives, checksums, SBOMs,
signatures, the signed release manifest and `verify`. Pure library: no CLI, engine or site."""
