"""The console: a chat in the terminal or through a pipe."""
