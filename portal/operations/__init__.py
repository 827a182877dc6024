"""Operations: retention of old events, online backups and Prometheus metrics."""
