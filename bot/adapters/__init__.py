"""One package per platform: translate its events in, render neutral cards out, send."""
