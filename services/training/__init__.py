"""The training intake service (政治学习): accepts completions and publishes them onto Kafka."""
