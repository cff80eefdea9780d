"""Full-text search of articles, Chinese-aware: jieba-segmented text in SQLite FTS5 or a PostgreSQL tsvector."""
