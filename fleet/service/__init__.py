"""The long-running side of fleet: the scheduler, background jobs, metrics (the API sits on top)."""
