"""Student views: what the student sees of an utterance (span-masked frames, ...)."""
