"""``python -m assistant datagen``: API access logs → question→query training pairs.

Modules, in pipeline order: :mod:`.logs` (read the log formats), :mod:`.extract` (requests →
normalized queries and their entities), :mod:`.select` (signatures, diversity, execution),
:mod:`.endpoint` (the OpenAI-compatible server and JSON-schema client, shared with
``annotate``), :mod:`.instructions` (prompt, checks, regeneration), :mod:`.templates` (the
deterministic writer, the default), :mod:`.paraphrase` (a base model rephrases the templates'
sentences), :mod:`.roundtrip` (the assistant's model must find the logged genes from each
instruction), :mod:`.work` (resume),
:mod:`.report` (rejections and skips), :mod:`.run` (the stages together) and :mod:`.cli`.
"""
