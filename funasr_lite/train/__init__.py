"""Training code (kept apart from inference: nothing in the inference path imports it)."""
