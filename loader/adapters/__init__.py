"""Thin adapters, one per AWS service or database. They speak the loader's verbs and models."""
