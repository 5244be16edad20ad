"""The graph as one user may see it: region scope, role labels and masking on every read."""
