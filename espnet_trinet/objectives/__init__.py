"""Objectives: one head and one loss on one student tap against one target source."""
