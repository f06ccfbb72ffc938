"""Backup and restore of the Kafka topics and the MongoDB database while the system runs (see __main__)."""
