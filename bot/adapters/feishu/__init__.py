"""Feishu (飞书): a self-built app with a bot, through the official SDK (lark-oapi)."""
