"""The data-to-model core: prices, returns and windows, the QUBO, decoding, measures."""
