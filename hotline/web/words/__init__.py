"""More of the console's words, one module per part of the console (same shape as
hotline/web/i18n.py's MESSAGES: key -> (zh-CN, en)); i18n.py merges them all."""
