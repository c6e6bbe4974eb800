"""Model networks (plain ``torch.nn`` modules with FunASR's parameter names)."""
