"""Growth: AI analyses of artworks (ability scores), the child's profile, and weekly/monthly reports."""
