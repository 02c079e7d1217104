"""Command-line interface (Typer). Each audience's commands live in their own module."""
