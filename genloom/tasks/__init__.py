"""Backend2 task settings: one ``setting`` shared by every subtask of a task, merged into each job input."""
