"""Prefect flows: thin wiring of collabmine library functions into tasks."""
