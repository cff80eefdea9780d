"""Backend2 tasks (seed 002): task settings validation and ratings of finished subtasks."""
