"""The plugin-author kit: small fixtures (tiny spaces, fake benchmarks, batches) and conformance checks for
estimators and searchers."""
