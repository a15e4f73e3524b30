"""The bundled protocol client."""
