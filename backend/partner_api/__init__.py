"""The partner API (contract v1): server-to-server, every request signed."""
