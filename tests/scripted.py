"""A language model that answers with given lines: for the paths a real model cannot be made
to take on purpose (an invalid query to retry, a query that matches nothing)."""

from __future__ import annotations

from assistant.llm import Generation, LanguageModel


class ScriptedModel(LanguageModel):
    """Returns the given lines in turn (to drive the retry path deterministically)."""

    name = "scripted"

    def __init__(self, lines):
        self.lines = list(lines)
        self.calls = []

    def generate(self, messages, grammar=None, max_tokens=None, stop=None, stream=False, **kw):
        self.calls.append(messages)
        return Generation(self.lines.pop(0), prompt_tokens=10, completion_tokens=5)
