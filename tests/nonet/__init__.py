"""The no-network guard of the whole test suite (see sitecustomize.py in this folder)."""
