"""Scoring of recognition output: word and character error rates, results tables."""
