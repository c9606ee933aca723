"""WeCom (企业微信): encrypted callbacks in, template cards and group posts out."""
