"""HuBERT-style k-means labels, made offline for a ``frame_labels`` target (MT4SSL's second branch).

One label per student frame (after the encoder's subsampling): ``student_grid`` says where the
student's frames lie, ``features`` computes one vector per frame (MFCC or a trained encoder's
block), ``kmeans`` clusters a sample of them, ``label_dump`` writes, merges and verifies the
labels of a data dir with their provenance.
"""
