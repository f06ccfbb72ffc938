"""Developer tools that stand beside the services (nothing here runs inside them)."""
