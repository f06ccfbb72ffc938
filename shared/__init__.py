"""What two or more services share: event contracts, settings pieces, Kafka, MongoDB and metrics helpers."""
