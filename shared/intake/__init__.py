"""The intake machinery the three intake services share: validate, deduplicate, publish, answer."""
