"""Fine-tuning: LoRA with torchtune on the question→query pairs, GGUF conversion, registration.

``python -m ft.train`` runs the whole chain (see ft/README.md). Nothing in ``assistant/``
imports this package; it imports ``assistant`` (prompts, registry, settings).
"""
