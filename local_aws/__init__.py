"""An embedded AWS endpoint (moto in server mode) for tests, benchmarks and local mode."""
