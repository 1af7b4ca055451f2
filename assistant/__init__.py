"""Query Assistant: answers questions about genes by writing, running and summarizing
MyGene.info (BioThings) queries.

Heavy libraries (llama_cpp, torch, sentence_transformers, openai) are imported where they are
used, so ``import assistant`` stays cheap.
"""

__version__ = "0.1.0"
