"""Impasto: a self-hosted neural style transfer studio."""
