"""The ``fleet`` command line: a thin layer over the domain, inventory and store modules."""
