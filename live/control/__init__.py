"""The control layer: mappings, presets, modulators and learn, on the parameter registry."""
