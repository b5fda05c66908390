"""Corpus preparation: corpora in LibriSpeech's layout (synthetic, FSDD digits, LibriSpeech
itself), Kaldi data dirs and their tools, audio formatting, filtering and speed perturbation."""
