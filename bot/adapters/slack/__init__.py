"""Slack: bolt's events in, Block Kit out."""
