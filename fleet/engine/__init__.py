"""The one place that owns concurrency: sweeps (and later readiness and provisioning runs)."""
