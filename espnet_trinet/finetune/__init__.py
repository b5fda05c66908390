"""The hand-over from SSL pretraining to CTC fine-tuning with ESPnet's ASR task."""
