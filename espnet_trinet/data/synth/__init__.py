"""The embedded synthetic corpus: generated sentences spoken by espeak-ng voices, written in
LibriSpeech's layout so that the LibriSpeech data preparation reads it unchanged."""

from espnet_trinet.data.synth.corpus import SynthConfig, make_synth_corpus, plan_synth_corpus, verify_held_out

__all__ = ["SynthConfig", "make_synth_corpus", "plan_synth_corpus", "verify_held_out"]
