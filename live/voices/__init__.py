"""Voices: the kit every voice is built from, and the visual, music and text voices."""
