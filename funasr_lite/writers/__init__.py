"""Output writers: Kaldi-style ``1best_recog`` files, and JSON / SRT / WebVTT / plain text per recording
(``formats.write_outputs``; the one JSON schema is in ``schema.py``)."""
