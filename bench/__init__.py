"""livegen benchmarks: every figure measured side by side in one run (`python -m bench`)."""
