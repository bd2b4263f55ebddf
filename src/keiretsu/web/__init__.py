"""The obeya: the dashboard every node serves (server-rendered pages, vendored assets)."""
