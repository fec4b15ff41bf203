"""Recommendation: a preference learned online from likes, and a walk that follows it."""
