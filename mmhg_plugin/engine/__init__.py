"""Runner-side helpers and hooks."""
