"""Developer tools kept out of the daemon's import graph (nothing under crisisd/ imports them)."""
