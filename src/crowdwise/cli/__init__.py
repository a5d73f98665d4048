"""The ``crowdwise`` command line: one module per verb, thin over the library."""
