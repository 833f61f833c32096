"""The web layer (Flask): the only part of bot/ that imports a web framework."""
