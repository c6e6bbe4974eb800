"""The training core both trainers (Paraformer, CAM++) are built on; one job per module:

- ``trainer.py``: :class:`Trainer`, the named steps of a run and their order;
- ``budget.py``: :class:`Budget`, when a run stops (epochs, steps, minutes, ``total_steps: auto``);
- ``checkpoint.py``: atomic saves, the checkpoint index (newest + N best), averaging;
- ``amp.py``: ``autocast`` and the fp16 grad scaler;
- ``schedules.py``: optimisers and learning-rate schedules;
- ``distributed.py``: torchrun / DDP plumbing and rank-0 logging.

Seeds and RNG states (``set_seed``, ``rng_state``) are ``funasr_lite/seeding.py``, shared with inference.
"""
