"""A keiretsu node: the server of one twin, its identity, its partners and what it shares."""
