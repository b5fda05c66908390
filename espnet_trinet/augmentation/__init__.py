"""The student's input augmentation of data2vec-aqc (noise, reverb) and a generated noise and RIR corpus."""
