"""Operations on a whole installation: backup and restore of the embedded shape."""
