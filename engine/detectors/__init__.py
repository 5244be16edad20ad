"""Built-in detectors. Every module here is imported by ``engine.registry.load_builtin`` and
registers its detectors with ``@engine.registry.detector``."""
