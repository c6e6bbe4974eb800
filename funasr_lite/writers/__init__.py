"""Output writers: Kaldi-style ``1best_recog`` files (more formats come with the pipeline)."""
