"""livegen's asyncio runtime: parameters, engine, voices and transports."""
