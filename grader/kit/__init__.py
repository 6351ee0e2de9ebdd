"""Student kit builder."""
