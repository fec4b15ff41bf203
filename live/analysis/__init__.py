"""Analysis: what the frames, the music and the text are like, measured live."""
