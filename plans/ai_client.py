"""The AI client (see the AI-client issue); for now only the shutdown hook the ASGI app calls."""


async def close_clients() -> None:
    """Close the shared HTTP clients (called when the server shuts down)."""
