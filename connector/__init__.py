"""The connector SPI and the connectors that implement it."""
