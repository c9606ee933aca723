"""DingTalk (钉钉): robot messages in by Stream mode, markdown and ActionCards out."""
