"""Output: result folders, one writer per workflow, figures and export. Never solves."""
