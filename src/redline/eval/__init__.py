"""Robustness evaluation: deterministic image transforms and a harness that scores match rules on them."""
