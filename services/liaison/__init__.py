"""The liaison intake service (法官联系人): accepts contacts and publishes them onto Kafka."""
