"""The three-broker cluster's ACLs, generated from the topic registry (grants.py) and applied by
`python -m tools.kafka_access apply [PRODUCER...]` (deploy/local/stack.py runs it)."""
