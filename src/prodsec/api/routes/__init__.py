"""One router per resource; ``ROUTERS`` is the order they appear in the OpenAPI document."""
