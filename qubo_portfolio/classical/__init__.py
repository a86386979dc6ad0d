"""Classical portfolio baselines and structure: the Markowitz frontier, the correlation network."""
