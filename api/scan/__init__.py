"""The batch scan pipeline: load a dataset into a store, run the detectors, write the outputs
(``riskgraph scan`` and the API's scan jobs both run :func:`api.scan.pipeline.scan_dataset`)."""
