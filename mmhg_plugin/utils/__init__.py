"""Utilities shared across mmhg_plugin."""
