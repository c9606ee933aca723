"""DingTalk (钉钉): robot messages and card clicks in by Stream mode; markdown, ActionCards and,
with a card template, interactive cards (互动卡片) out."""
