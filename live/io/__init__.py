"""Transports to and from the outside: HTTP and WebSocket, OSC, MIDI, the OSC note sender, Link."""
