"""Talking to OpenAI-compatible LLM servers: the client and a local test server."""
