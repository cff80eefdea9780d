"""Mind-map nodes (cineMind's ``mind_nodes``): CRUD with ETag/version locking, soft delete, keywords."""
