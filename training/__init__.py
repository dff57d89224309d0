"""Rebuild the bundled network: simulate data with sasmodels, train, evaluate, export."""
