"""GenFlow collaborative editing: Yjs documents of articles, their update log, rooms and the relay between processes."""
