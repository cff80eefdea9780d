"""GenFlow's writing assistant: sessions, history, context within a token budget, streamed replies."""
