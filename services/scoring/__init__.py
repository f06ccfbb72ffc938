"""The scoring service: a faust worker that keeps live branch scores, and the leaders' API."""
