"""GenFlow articles: markdown documents with a version per save, diff and restore, collaborators, soft delete."""
