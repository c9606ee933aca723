"""WeCom intelligent robot (企业微信智能机器人): messages in and replies out over one long
connection (API mode, 长连接), no public URL."""
