"""A HubSpot API emulator: the HubSpot of the tests, the benchmarks and the demo."""
