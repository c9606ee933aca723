"""The entry points: the command line, the demo, start-up and the HTTP app."""
