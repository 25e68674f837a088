"""The validator's model runner: base model, LoRA step, forward pass."""
