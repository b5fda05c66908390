"""What the recipe scripts need from Python: records of the settings each stage's output was made with."""
