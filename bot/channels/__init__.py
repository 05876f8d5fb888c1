"""Where alerts go: one small module per chat app, each a pure render plus a thin send."""
