"""The volunteer intake service (志愿服务): accepts deployments and publishes them onto Kafka."""
